#!/usr/bin/python3
"""Regenerates native/tests/goldens/transformers/ by RUNNING transformers' own Idefics3ImageProcessor
(and load_image, i.e. PIL.ImageOps.exif_transpose) from the transformers v4.46.0 sources.

Needs Debian's python3-pil, python3-numpy and python3-packaging, and the v4.46.0 source tree:

    apt-get install -y python3-pil python3-numpy python3-packaging
    # a clone of the transformers repository (or a mirror of it) with its tag v4.46.0 in /tmp/transformers:
    mkdir -p /tmp/tf4460 && git -C /tmp/transformers archive v4.46.0 src/transformers | tar x -C /tmp/tf4460
    /usr/bin/python3 native/tests/goldens/make_transformers_goldens.py /tmp/tf4460/src

Nothing of transformers is copied here. Its package __init__ files (lazy import tables and a
version check of every optional dependency) are bypassed by registering the three package
objects transformers, transformers.models and transformers.models.idefics3 with their source
paths, and the third-party modules that Debian lacks (huggingface_hub, safetensors, tokenizers,
regex, ... -- only those that are really missing) are replaced by inert stand-ins: the image
processor never calls them (they are imported for the hub and tokenizer code).

Outputs (all small; the Java and C tests compare smoldpo against them with 0 tolerance):

  cases.txt     one processor run per line:
                name source src_w src_h do_resize longest_edge splitting tile_size rows cols
                tiles sha256 values
                source: a raw RGB file (*.rgb, src_w x src_h x 3 bytes, given to the processor as a
                PIL RGB image) or an encoded file (*.jpg, *.png, *.webp, opened by load_image, so
                EXIF orientation applies; src_w x src_h is then the size after exif_transpose).
                sha256: of pixel_values as little-endian float32 [tiles, 3, tile, tile], the
                processor's output with return_tensors="np" (rescale 1/255, mean = std = 0.5).
                values: a file holding those float32 bytes when small enough, else "-".
  decoded.txt   encoded file -> load_image's pixels: file width height orientation rgb_file
                (rgb_file: width x height x 3 bytes after exif_transpose and convert("RGB")).
  *.rgb, *.jpg, *.png, *.webp, *.f32   the files named above.

SmolVLM-256M-Instruct's preprocessor_config.json says size.longest_edge 2048, which v4.46.0
refuses (get_resize_output_image_size raises when longest_edge > 1820); the "real config" cases
use that file's other values with longest_edge 1536, the largest tile multiple v4.46.0 accepts.
"""
import hashlib
import io
import json
import os
import sys
import types

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_goldens import synthetic  # noqa: E402  (same seeded photo-like generator)

OUT = os.path.join(HERE, "transformers")
REAL_CONFIG = "/work/shared/models/SmolVLM-256M-Instruct/preprocessor_config.json"
MAX_VALUES_BYTES = 16 * 1024  # keep float32 dumps only for small cases; larger ones by hash

# Third-party modules imported by transformers' utils/hub code but never used by the image
# processor, with the versions v4.46.0 was released against; replaced only when missing.
THIRD_PARTY = {"huggingface_hub": "0.26.0", "safetensors": "0.4.5", "tokenizers": "0.20.1", "regex": "2024.9.11",
               "requests": "2.32.3", "tqdm": "4.66.5", "filelock": "3.16.1", "yaml": "6.0.2"}
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def import_transformers(src):
    """transformers' image processor module and image_utils from the source tree src/."""
    root = os.path.join(src, "transformers")
    version_line = next(l for l in open(os.path.join(root, "__init__.py")) if l.startswith("__version__"))
    version = version_line.split("=")[1].strip().strip('"')
    if version != "4.46.0":
        sys.exit("expected the transformers v4.46.0 sources, %s has %s" % (root, version))
    sys.path.insert(0, os.path.join(REPO, "tools", "fixtures"))
    import stubs  # the project's stand-ins for packages Debian lacks (tools/fixtures/stubs.py)
    missing = stubs.install(THIRD_PARTY, stubs.hub_values("/nonexistent/hf"))
    for name, sub in (("transformers", ""), ("transformers.models", "models"),
                      ("transformers.models.idefics3", os.path.join("models", "idefics3"))):
        package = types.ModuleType(name)
        package.__path__ = [os.path.join(root, sub)]
        package.__version__ = version
        sys.modules[name] = package
    import transformers.image_utils as image_utils
    import transformers.models.idefics3.image_processing_idefics3 as idefics3
    print("transformers %s from %s; stand-ins for missing %s" % (version, root, missing or "nothing"),
          file=sys.stderr)
    return idefics3, image_utils


def processor(idefics3, do_resize, longest_edge, splitting, tile):
    return idefics3.Idefics3ImageProcessor(
        do_convert_rgb=True, do_resize=bool(do_resize), size={"longest_edge": longest_edge},
        resample=Image.Resampling.LANCZOS, do_image_splitting=bool(splitting),
        max_image_size={"longest_edge": tile}, do_rescale=True, rescale_factor=1 / 255,
        do_normalize=True, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], do_pad=True)


def run(idefics3, image, do_resize, longest_edge, splitting, tile):
    out = processor(idefics3, do_resize, longest_edge, splitting, tile)(
        images=[image], return_tensors="np", return_row_col_info=True)
    pv = out["pixel_values"]
    assert pv.dtype == np.float32 and pv.shape[0] == 1 and pv.shape[2:] == (3, tile, tile), pv.shape
    return pv[0], out["rows"][0][0], out["cols"][0][0]


def exif_bytes(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# Raw RGB sources through the processor. (name, w, h, seed, do_resize, longest_edge, splitting, tile)
RAW_CASES = [
    ("nosplit_down", 50, 40, 3001, 1, 48, 0, 24),    # longest-edge resize down, then the square
    ("nosplit_tall", 30, 70, 3002, 1, 64, 0, 24),    # tall, up
    ("nosplit_square", 20, 20, 3003, 1, 32, 0, 32),  # square: one resize only
    ("nosplit_wide", 90, 20, 3004, 1, 80, 0, 20),    # very wide, short side made even
    ("nosplit_noresize", 17, 29, 3005, 0, 64, 0, 24),  # do_resize false: straight to the square
    ("split_wide", 50, 30, 3006, 1, 48, 1, 16),      # the split path, for comparison
]

# Encoded files with EXIF orientations, opened by load_image.
# (file, stored_w, stored_h, seed, orientation, format options)
ENCODED = [
    ("exif6.jpg", 64, 48, 4001, 6, dict(format="JPEG", quality=90)),
    ("exif8.jpg", 48, 40, 4002, 8, dict(format="JPEG", quality=90)),
    ("exif6_wide.jpg", 64, 32, 4003, 6, dict(format="JPEG", quality=90)),
    ("exif6.webp", 20, 12, 4004, 6, dict(format="WEBP", lossless=True)),
    ("plain.webp", 40, 30, 4005, 0, dict(format="WEBP", lossless=True)),
] + [("orient%d.png" % o, 7, 5, 4100 + o, o, dict(format="PNG")) for o in range(1, 9)]

# (name, file, do_resize, longest_edge, splitting, tile)
ENCODED_CASES = [
    ("exif6_split", "exif6.jpg", 1, 64, 1, 16),      # 4 rows x 3 cols (3 x 4 without orientation)
    ("exif6_nosplit", "exif6.jpg", 1, 64, 0, 24),
    ("exif8_split", "exif8.jpg", 1, 48, 1, 16),
    ("exif6_webp_nosplit", "exif6.webp", 1, 32, 0, 16),
    ("real_exif6_split", "exif6_wide.jpg", 1, 1536, 1, 512),    # SmolVLM-256M's values, 1536 edge
    ("real_exif6_nosplit", "exif6_wide.jpg", 1, 1536, 0, 512),
]


def check_real_config():
    """The real-config cases use SmolVLM-256M's processor values; check they are what we use."""
    if not os.path.exists(REAL_CONFIG):
        print("note: %s not found; real-config cases use the values it had" % REAL_CONFIG, file=sys.stderr)
        return
    cfg = json.load(open(REAL_CONFIG))
    want = {"do_convert_rgb": True, "do_resize": True, "do_normalize": True, "do_rescale": True,
            "image_mean": [0.5] * 3, "image_std": [0.5] * 3, "max_image_size": {"longest_edge": 512},
            "resample": 1, "size": {"longest_edge": 2048}}
    for key, value in want.items():
        if cfg.get(key) != value:
            sys.exit("%s: %s is %r, the real-config cases assume %r" % (REAL_CONFIG, key, cfg.get(key), value))
    if abs(cfg["rescale_factor"] - 1 / 255) > 1e-15:
        sys.exit("%s: rescale_factor %r is not 1/255" % (REAL_CONFIG, cfg["rescale_factor"]))


def case_line(name, source, w, h, do_resize, longest, splitting, tile, pv, rows, cols):
    data = pv.astype("<f4").tobytes()
    values = "-"
    if len(data) <= MAX_VALUES_BYTES:
        values = name + ".f32"
        write(values, data)
    return "%s %s %d %d %d %d %d %d %d %d %d %s %s" % (
        name, source, w, h, do_resize, longest, splitting, tile, rows, cols, pv.shape[0],
        hashlib.sha256(data).hexdigest(), values)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    idefics3, image_utils = import_transformers(sys.argv[1])
    check_real_config()
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    cases = ["# name source src_w src_h do_resize longest_edge splitting tile_size rows cols tiles "
             "sha256(float32 pixel_values) values_file -- made by make_transformers_goldens.py "
             "with transformers 4.46.0"]
    for name, w, h, seed, do_resize, longest, splitting, tile in RAW_CASES:
        src = synthetic(w, h, 3, seed)
        write(name + ".rgb", src)
        pv, rows, cols = run(idefics3, Image.frombytes("RGB", (w, h), src), do_resize, longest, splitting, tile)
        cases.append(case_line(name, name + ".rgb", w, h, do_resize, longest, splitting, tile, pv, rows, cols))

    decoded = ["# file width height orientation rgb_file: load_image (exif_transpose + convert RGB)"]
    loaded = {}
    for file, w, h, seed, orientation, options in ENCODED:
        buf = io.BytesIO()
        options = dict(options)
        if orientation:
            options["exif"] = exif_bytes(orientation)
        Image.frombytes("RGB", (w, h), synthetic(w, h, 3, seed)).save(buf, **options)
        write(file, buf.getvalue())
        image = image_utils.load_image(os.path.join(OUT, file))
        rgb_file = file.rsplit(".", 1)[0] + "_" + file.rsplit(".", 1)[1] + ".rgb"
        write(rgb_file, image.tobytes())
        decoded.append("%s %d %d %d %s" % (file, image.width, image.height, orientation, rgb_file))
        loaded[file] = image
    for name, file, do_resize, longest, splitting, tile in ENCODED_CASES:
        image = loaded[file]
        pv, rows, cols = run(idefics3, image, do_resize, longest, splitting, tile)
        cases.append(case_line(name, file, image.width, image.height, do_resize, longest, splitting, tile,
                               pv, rows, cols))

    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")
    with open(os.path.join(OUT, "decoded.txt"), "w") as f:
        f.write("\n".join(decoded) + "\n")
    print("\n".join(cases[1:]), file=sys.stderr)
    print("transformers goldens written to", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
