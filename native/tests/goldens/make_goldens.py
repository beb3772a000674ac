#!/usr/bin/python3
"""Regenerates the golden files of the native image tests with PIL (Debian's python3-pil).

    apt-get install -y python3-pil
    /usr/bin/python3 native/tests/goldens/make_goldens.py

Sources are small synthetic images from a seeded generator (stored in the goldens, so the tests
need no PIL). Outputs:

  resize_NN.bin      one PIL LANCZOS resize (after alpha compositing onto white)
                     "SDRZ", int32 LE: src_w, src_h, channels, dst_w, dst_h; src bytes; dst RGB bytes
  processor_NN.bin   the Idefics3 image processor up to (not including) rescale/normalise
                     "SDPP", int32 LE: src_w, src_h, channels, longest_edge, tile_size, splitting,
                     rows, cols, tile_count, resized_w, resized_h, split_w, split_h, canvas_h,
                     canvas_w; src bytes; tile_count x [3, canvas_h, canvas_w] uint8 (channels first)
  grids.txt          sizes and tile grids at SmolVLM's defaults (no pixels)

The processor steps follow transformers' Idefics3ImageProcessor (image_processing_idefics3.py):
RGB conversion (alpha over white), longest-edge resize with the even short side and the 4096 cap,
resize to tile multiples, row-major crops, global image resized to tile x tile (from the image
after the tile-multiple resize), all with PIL LANCZOS on uint8 images. Without splitting, the
longest-edge image is resized to a tile x tile square (one tile, 0 x 0 grid).

make_transformers_goldens.py (beside this file) runs transformers' own processor instead.
"""
import math
import os
import random
import struct
import sys

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_IMAGE_SIZE = 4096


def synthetic(w, h, channels, seed):
    """A photo-like test image: smooth gradients, hard edges, a checkerboard and noise."""
    rnd = random.Random(seed)
    cx, cy = rnd.uniform(0, w), rnd.uniform(0, h)
    rad = max(w, h) * rnd.uniform(0.2, 0.5)
    out = bytearray()
    for y in range(h):
        for x in range(w):
            r = int(255 * x / max(w - 1, 1))
            g = int(255 * y / max(h - 1, 1))
            b = 40
            if (x - cx) ** 2 + (y - cy) ** 2 < rad * rad:
                r, g, b = 250 - r // 2, 20 + g // 3, 230
            if ((x // 3) + (y // 3)) % 2 == 0 and x > w // 2:
                b = 255 - b
            r = max(0, min(255, r + rnd.randint(-12, 12)))
            g = max(0, min(255, g + rnd.randint(-12, 12)))
            b = max(0, min(255, b + rnd.randint(-12, 12)))
            px = [r, g, b]
            if channels == 4:
                a = 255 if x < w // 3 else (0 if y < h // 4 else int(255 * y / max(h - 1, 1)))
                px.append(a)
            out.extend(px)
    return bytes(out)


def to_rgb(src, w, h, channels):
    if channels == 3:
        return Image.frombytes("RGB", (w, h), src)
    im = Image.frombytes("RGBA", (w, h), src)
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return Image.alpha_composite(bg, im).convert("RGB")


def rescale_to_max_len(height, width, max_len):
    aspect = width / height
    if width >= height:
        width = max_len
        height = int(width / aspect)
        if height % 2 != 0:
            height += 1
    elif height > width:
        height = max_len
        width = int(height * aspect)
        if width % 2 != 0:
            width += 1
    return max(height, 1), max(width, 1)


def scale_below_upper_bound(height, width, max_len):
    aspect = width / height
    if width >= height and width > max_len:
        width = max_len
        height = int(width / aspect)
    elif height > width and height > max_len:
        height = max_len
        width = int(height * aspect)
    return max(height, 1), max(width, 1)


def resize_for_vision_encoder(height, width, t):
    aspect = width / height
    if width >= height:
        width = math.ceil(width / t) * t
        height = int(width / aspect)
        height = math.ceil(height / t) * t
    else:
        height = math.ceil(height / t) * t
        width = int(height * aspect)
        width = math.ceil(width / t) * t
    return height, width


def plan(w, h, longest, t):
    h1, w1 = rescale_to_max_len(h, w, longest)
    h1, w1 = scale_below_upper_bound(h1, w1, MAX_IMAGE_SIZE)
    h2, w2 = resize_for_vision_encoder(h1, w1, t)
    if h2 > t or w2 > t:
        rows, cols = math.ceil(h2 / t), math.ceil(w2 / t)
    else:
        rows, cols = 0, 0
    return (w1, h1), (w2, h2), rows, cols


def pil_resize(im, w, h):
    # transformers calls PIL's resize for every step; PIL returns a copy when the size is unchanged
    return im.resize((w, h), resample=Image.LANCZOS)


def chw(im):
    w, h = im.size
    data = im.tobytes()
    return b"".join(data[c::3] for c in range(3))


def processor(src, w, h, channels, longest, t, splitting):
    im = to_rgb(src, w, h, channels)
    (w1, h1), (w2, h2), rows, cols = plan(w, h, longest, t)
    im = pil_resize(im, w1, h1)
    if not splitting:
        # transformers squares the image to max_image_size (aspect ratio not kept), no tiles
        im = pil_resize(im, t, t)
        return dict(rows=0, cols=0, resized=(w1, h1), split=(t, t), canvas=(t, t), tiles=[chw(im)])
    im = pil_resize(im, w2, h2)
    tiles = []
    if rows or cols:
        oh, ow = math.ceil(h2 / rows), math.ceil(w2 / cols)
        for r in range(rows):
            for c in range(cols):
                box = (c * ow, r * oh, min(c * ow + ow, w2), min(r * oh + oh, h2))
                tiles.append(chw(im.crop(box)))
        im = pil_resize(im, t, t)
    tiles.append(chw(im))
    return dict(rows=rows, cols=cols, resized=(w1, h1), split=(w2, h2), canvas=(t, t), tiles=tiles)


RESIZE_CASES = [
    # (src_w, src_h, channels, dst_w, dst_h)
    (40, 30, 3, 97, 73),   # up
    (64, 48, 3, 23, 17),   # down
    (31, 77, 3, 12, 50),   # down, tall
    (90, 20, 3, 45, 61),   # wide: width down, height up
    (17, 17, 3, 64, 64),   # up, square
    (50, 50, 3, 50, 31),   # vertical pass only
    (120, 80, 3, 37, 80),  # horizontal pass only
    (33, 21, 4, 70, 44),   # RGBA over white, up
    (120, 90, 3, 7, 5),    # strong down
]

PROCESSOR_CASES = [
    # (src_w, src_h, channels, longest_edge, tile_size, splitting)
    (50, 40, 3, 96, 32, 1),
    (30, 70, 3, 96, 32, 1),
    (20, 20, 3, 32, 32, 1),   # fits one tile: only the global image
    (45, 30, 4, 64, 48, 1),   # RGBA, tile size not dividing the edge
    (100, 70, 3, 80, 32, 1),   # downscale first
    (50, 40, 3, 64, 32, 0),   # no splitting
]

GRID_SIZES = [(1024, 768), (768, 1024), (512, 512), (300, 200), (4000, 100), (100, 4000),
              (1, 1), (513, 200), (2048, 2048), (1920, 1080), (333, 1001), (64, 4096)]


def main():
    for i, (w, h, c, dw, dh) in enumerate(RESIZE_CASES):
        src = synthetic(w, h, c, 1000 + i)
        dst = pil_resize(to_rgb(src, w, h, c), dw, dh).tobytes()
        with open(os.path.join(HERE, "resize_%02d.bin" % i), "wb") as f:
            f.write(b"SDRZ" + struct.pack("<5i", w, h, c, dw, dh) + src + dst)
    for i, (w, h, c, longest, t, splitting) in enumerate(PROCESSOR_CASES):
        src = synthetic(w, h, c, 2000 + i)
        p = processor(src, w, h, c, longest, t, splitting)
        header = struct.pack("<15i", w, h, c, longest, t, splitting, p["rows"], p["cols"],
                             len(p["tiles"]), p["resized"][0], p["resized"][1], p["split"][0],
                             p["split"][1], p["canvas"][0], p["canvas"][1])
        with open(os.path.join(HERE, "processor_%02d.bin" % i), "wb") as f:
            f.write(b"SDPP" + header + src + b"".join(p["tiles"]))
    with open(os.path.join(HERE, "grids.txt"), "w") as f:
        f.write("# src_w src_h longest_edge tile_size resized_w resized_h split_w split_h rows cols\n")
        for (w, h) in GRID_SIZES:
            (w1, h1), (w2, h2), rows, cols = plan(w, h, 2048, 512)
            f.write("%d %d 2048 512 %d %d %d %d %d %d\n" % (w, h, w1, h1, w2, h2, rows, cols))
    print("goldens written to", HERE, file=sys.stderr)


if __name__ == "__main__":
    main()
