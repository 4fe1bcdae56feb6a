"""``battlab elements``: summary, ratio maps with Poisson σ and phases of XRF/EDS element maps."""

from __future__ import annotations

__all__ = ["add_parser"]


def _cmd_elements(args) -> int:
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from battlab.elements.io import read_element_maps
    from battlab.elements.workflow import analyse_elements
    from battlab.provenance import Provenance, write_results

    elements = [e.strip() for e in args.elements.split(",")] if args.elements else None
    datasets = [d.strip() for d in args.datasets.split(",")] if args.datasets else None
    maps = read_element_maps(args.input, pixel_size_um=args.pixel_size_um, elements=elements, datasets=datasets)
    phase_elements = [e.strip() for e in args.phase_elements.split(",")] if args.phase_elements else None
    res = analyse_elements(maps, ratios=args.ratio or (), min_counts=args.min_counts, n_phases=args.phases,
                           phase_elements=phase_elements, min_total_counts=args.min_total_counts)
    params = {k: getattr(args, k) for k in ("pixel_size_um", "elements", "datasets", "ratio", "min_counts", "phases",
                                            "phase_elements", "min_total_counts")}
    params["uncertainty"] = "Poisson, σ_R = R·sqrt(1/N + 1/D)"
    tables = dict(res["tables"])
    if args.register_to:
        from battlab.elements.analysis import register_maps
        from battlab.probes.io import read_probe_map

        image_px = args.image_pixel_size_um or maps.attrs["pixel_size_um"]
        image = read_probe_map(args.register_to, pixel_size_um=image_px, value_unit="a.u.")
        reg, _ = register_maps(maps, image, element=args.register_element, method=args.register_method)
        tx, ty = reg.transform.translation_um
        tables["registration"] = pd.DataFrame([{
            "image": Path(args.register_to).name, "moving": args.register_element or "total counts",
            "method": reg.method, "translation_x_um": tx, "translation_y_um": ty,
            "rotation_deg": reg.transform.rotation_deg, "scale": reg.transform.scale, "confidence": reg.confidence,
            "shift_y_px": reg.details.get("shift_px", [np.nan, np.nan])[0],
            "shift_x_px": reg.details.get("shift_px", [np.nan, np.nan])[1]}])
        params.update(register_to=str(args.register_to), register_element=args.register_element,
                      register_method=args.register_method, image_pixel_size_um=args.image_pixel_size_um,
                      transform=reg.transform.to_dict())
    prov = Provenance.for_data("battlab.elements.analyse_elements", maps, params, command=args.command_line)
    if args.register_to:
        meta = image.attrs["battlab"]
        prov.inputs.append({"name": Path(args.register_to).name, "sha256": meta["sha256"], "format": meta["format"]})
    written = write_results(args.out, tables, prov)
    print(f"{maps.sizes['element']} element map(s) ({', '.join(map(str, maps['element'].values))}), "
          f"{maps.sizes['x']}×{maps.sizes['y']} px")
    for row in res["tables"].get("ratio_summary", []).itertuples() if "ratio_summary" in res["tables"] else []:
        print(f"{row.ratio}: median {row.median:.4g} (±{row.median_relative_error * 100:.1f} % per pixel), "
              f"{row.valid_fraction * 100:.1f} % of pixels above {row.min_counts:g} counts")
    print(f"wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def add_parser(sub):
    s = sub.add_parser("elements", help="XRF/EDS element maps: ratio maps with Poisson σ, fractions, phases")
    s.add_argument("input", metavar="MAPS", help="multi-page TIFF, zip or folder of per-element maps, or HDF5")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--pixel-size-um", type=float, help="pixel size (µm); required unless the file states it")
    s.add_argument("--elements", help="comma-separated names of TIFF pages in order (e.g. Ni,Mn,Co)")
    s.add_argument("--datasets", help="comma-separated HDF5 dataset paths to read")
    s.add_argument("--ratio", action="append", help="ratio map NUM/DEN (repeatable), e.g. --ratio Ni/Mn")
    s.add_argument("--min-counts", type=float, default=10.0, help="mask ratio pixels below this count (default 10)")
    s.add_argument("--phases", type=int, default=0, help="k-means phases on normalised maps (0 = none)")
    s.add_argument("--phase-elements", help="elements used for the phases (default all)")
    s.add_argument("--min-total-counts", type=float, default=0.0, help="pixels below this total are background")
    s.add_argument("--register-to", metavar="IMAGE", help="register the maps onto this SEM/X-ray image (TIFF, text "
                                                          "matrix or x,y,value CSV); writes registration.csv")
    s.add_argument("--image-pixel-size-um", type=float, help="pixel size of --register-to (default: the maps')")
    s.add_argument("--register-element", help="element map compared with the image (default: total counts)")
    s.add_argument("--register-method", choices=["translation", "similarity"], default="translation")
    s.set_defaults(func=_cmd_elements)
