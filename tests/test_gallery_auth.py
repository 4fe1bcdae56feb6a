"""`battlab gallery` with an access token: pages need it, served by real Voila."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.geturl(), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:  # e.g. the login page after a redirect
        return exc.code, exc.geturl(), ""


def test_token_protects_every_page_and_base_url(tmp_path):
    token = "battlab-test-token-0123456789"
    (tmp_path / "token").write_text(token + "\n")
    port = _free_port()
    log = open(tmp_path / "gallery.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "battlab.cli", "gallery", "--port", str(port), "--token-file",
                             str(tmp_path / "token"), "--base-url", "/lab/"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}/lab/"
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                urllib.request.urlopen(base, timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.5)
        status, final, html = _get(base + "voila/render/00_gallery.ipynb")
        assert "/lab/login" in final and "battlab gallery" not in html  # no token: the login page, never the app
        status, final, html = _get(base + "voila/render/00_gallery.ipynb?token=wrong-token-value-123")
        assert "/lab/login" in final and "battlab gallery" not in html
        status, final, html = _get(base + f"voila/render/00_gallery.ipynb?token={token}")
        assert status == 200 and "login" not in final and "battlab gallery" in html
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    assert token not in (tmp_path / "gallery.log").read_text()  # the token is never logged


def test_network_address_gets_a_generated_token_and_short_tokens_are_refused(tmp_path):
    (tmp_path / "short").write_text("abc\n")
    res = subprocess.run([sys.executable, "-m", "battlab.cli", "gallery", "--token-file", str(tmp_path / "short")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "shorter than 16 characters" in res.stderr
    from argparse import Namespace

    from battlab.cli import _gallery_token

    args = Namespace(token_file=None, ip="0.0.0.0", allow_anonymous=False, show_token=False)
    env = os.environ.pop("BATTLAB_GALLERY_TOKEN", None)
    try:
        generated = _gallery_token(args)
        assert generated and len(generated) >= 32 and args.show_token
        assert _gallery_token(Namespace(token_file=None, ip="127.0.0.1", allow_anonymous=False,
                                        show_token=False)) is None
        assert _gallery_token(Namespace(token_file=None, ip="0.0.0.0", allow_anonymous=True,
                                        show_token=False)) is None
    finally:
        if env is not None:
            os.environ["BATTLAB_GALLERY_TOKEN"] = env


def test_one_app_per_process(tmp_path):
    """`--app` serves one app's notebook alone, at the root of its own Voila process."""
    port = _free_port()
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "battlab.cli", "gallery", "--app", "CyclingApp", "--port",
                             str(port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 90
        status, html = None, ""
        while time.time() < deadline:
            try:
                status, _, html = _get(base)
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200 and "Galvanostatic cycling" in html and "battlab/static" in html
        # The other apps are not served by this process: the gallery's notebook paths fall back to the one app.
        status, final, html = _get(base + "voila/render/05_operando_optical.ipynb")
        assert "Operando optical" not in html and "optical microscopy" not in html.lower()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_unknown_app_is_refused_with_the_list():
    res = subprocess.run([sys.executable, "-m", "battlab.cli", "gallery", "--app", "NoSuchApp"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "no app called 'NoSuchApp'" in res.stderr and "CyclingApp" in res.stderr


def test_preheat_keeps_kernels_for_the_apps_not_for_the_gallery_page(tmp_path):
    from pathlib import Path

    from battlab.cli import voila_command

    cmd, _ = voila_command(Path("notebooks"), preheat=2)
    assert "--VoilaConfiguration.preheat_kernel=True" in cmd
    assert "--VoilaConfiguration.default_pool_size=2" in cmd
    assert any(a.startswith("--VoilaKernelManager.preheat_denylist=") and "00_gallery.ipynb" in a for a in cmd)
    plain, _ = voila_command(Path("notebooks"))
    assert not [a for a in plain if "preheat" in a]
    res = subprocess.run([sys.executable, "-m", "battlab.cli", "gallery", "--preheat", "-1"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "--preheat" in res.stderr
