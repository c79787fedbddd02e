"""`fer-keras data ...` (the data layer's conversions, audit, near-copies, sample) and `fer-keras
params` (the models layer's parameter check)."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.paths import output_file, output_folder
from ..core.tfprocess import import_tensorflow_quietly
from .common import UsageError, commands


def cmd_to_csv(args) -> int:
    from ..data import convert

    output_file(args.out, "the CSV", args.overwrite)
    n = convert.dir_to_csv(args.src, args.out)
    print(f"wrote {n} rows to {args.out}")
    return 0


def cmd_to_dir(args) -> int:
    from ..data import convert, load

    n = convert.write_directory(load(args.src), output_folder(args.out, "the images"))
    print(f"wrote {n} PNG images under {args.out}")
    return 0


def cmd_audit(args) -> int:
    from ..core.provenance import atomic_path
    from ..data import load
    from ..data.audit import audit, example_strip, render
    from ..data.directory import imwrite

    for path, what in ((args.json, "the audit's JSON"), (args.examples, "the example PNG")):
        if path:
            output_file(path, what, args.overwrite)
    data = load(args.path)
    report = audit(data)
    print(render(report))
    if args.json:
        with atomic_path(Path(args.json)) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
        print(f"JSON written to {args.json}")
    if args.examples:
        imwrite(args.examples, example_strip(data))
        print(f"examples (first images of each split, one row per split) written to "
              f"{args.examples}")
    return 0


def cmd_near_copies(args) -> int:
    from ..data import load
    from ..data.near import near_copies

    if Path(args.json).exists():  # never replaced: a list of record
        raise UsageError(f"{args.json}: already exists; expected a new file (move the old "
                         "one aside)")
    output_file(args.json, "the near-copies JSON")
    if args.threshold <= 0:
        raise UsageError(f"--threshold {args.threshold}: expected grey levels > 0")
    data = load(args.path)
    try:
        found = near_copies(data, args.part, args.of, args.threshold)
    except ValueError as e:
        raise UsageError(f"{args.path}: {e}") from None
    Path(args.json).write_text(json.dumps(found, indent=2) + "\n")
    print(f"{found['near']} of {found['images']} {args.part} images have a {args.of} image "
          f"within {args.threshold:g} grey levels RMS; the list: {args.json}")
    return 0


def cmd_sample(args) -> int:
    from ..data.synthetic import write_sample

    if args.n < 70:
        raise UsageError(f"--n {args.n}: expected at least 70 images (10 per class)")
    images, csv_path = write_sample(output_folder(args.out, "the sample"), n=args.n,
                                    seed=args.seed)
    print(f"synthetic sample: {images} and {csv_path}")
    return 0


def cmd_params(args) -> int:
    import_tensorflow_quietly()
    from ..models.summary import params_table

    lines, ok = params_table()
    print("\n".join(lines))
    return 0 if ok else 1


def add(command) -> None:
    """This wing's commands on the `fer-keras` parser."""
    d = command("data", help="convert, audit or generate data")
    dsub = d.add_subparsers(dest="data_cmd", required=True, metavar="ACTION")
    action = commands(dsub)
    c = action("to-csv", help="image-folder export -> challenge CSV")
    c.add_argument("src", help="the image-folder export (root with train/ and test/)")
    c.add_argument("out", help="the CSV to write")
    c.add_argument("--overwrite", action="store_true", help="replace an existing file there")
    c.set_defaults(handler=cmd_to_csv)
    c = action("to-dir", help="CSV -> image folders (lossless PNG)")
    c.add_argument("src", help="the challenge CSV (emotion,pixels,Usage)")
    c.add_argument("out", help="the folder to write train/ and test/ class folders in")
    c.set_defaults(handler=cmd_to_dir)
    c = action("audit", help="counts, duplicates, leakage, blank images, image "
                       "quality per split")
    c.add_argument("path", help="FER-2013 as an image export or a CSV")
    c.add_argument("--json", help="also write the findings as JSON here")
    c.add_argument("--examples", help="also write a PNG of each split's first images here")
    c.add_argument("--overwrite", action="store_true",
                   help="replace existing files at --json and --examples")
    c.set_defaults(handler=cmd_audit)
    c = action("near-copies", help="the test images with a near-copy among the training "
               "images (RMS pixel distance), as a JSON list")
    c.add_argument("path", help="FER-2013 as an image export or a CSV (with its parts)")
    c.add_argument("--json", required=True, help="the list to write (a new file)")
    c.add_argument("--part", default="PrivateTest", choices=("PrivateTest", "PublicTest"),
                   help="the part whose images are looked up")
    c.add_argument("--of", default="Training", help="the part searched for near-copies")
    c.add_argument("--threshold", type=float, default=2.0,
                   help="grey levels RMS at or below which an image is a near-copy")
    c.set_defaults(handler=cmd_near_copies)
    c = action("sample", help="write the embedded synthetic sample in both formats")
    c.add_argument("out", help="the folder to write the sample in")
    c.add_argument("--n", type=int, default=1400, help="images (at least 70: 10 per class)")
    c.add_argument("--seed", type=int, default=0, help="draws the synthetic faces")
    c.set_defaults(handler=cmd_sample)

    pa = command("params", help="check every registered model's parameter count")
    pa.set_defaults(handler=cmd_params)
