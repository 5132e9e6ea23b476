"""Reference outputs of Pillow for the image tests (maetok4j.data.*Test).

Regenerate with Debian's Pillow 9.4 (apt-get install python3-pil python3-numpy), from this folder:
    /usr/bin/python3 make_reference.py
Writes small image inputs and the expected uint8 RGB outputs as raw .rgb files (H*W*3 bytes, row-major).
The output is deterministic: rerunning it must leave `git status` clean. New cases go at the end, so that
the random images before them stay the same.

Inputs with alpha are expected composited over white with Image.alpha_composite, which is what
ImageFiles.read does; Pillow's own convert("RGB") drops alpha instead.
"""
import math
import struct
import zlib

import numpy as np
from PIL import Image

rng = np.random.default_rng(0)


def smooth_noise(h, w):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), (x + y) * 127 / max(w + h - 2, 1)], -1)
    return np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)


def save_raw(img, name):
    np.asarray(img.convert("RGB"), dtype=np.uint8).tofile(name)


grad = Image.fromarray(smooth_noise(23, 37))
grad.save("grad.png")
big = Image.fromarray(smooth_noise(97, 130))
big.save("big.png")

filters = {"nearest": Image.NEAREST, "box": Image.BOX, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}
for fname, f in filters.items():
    for (w, h) in [(16, 11), (37, 9), (50, 40), (5, 23), (1, 1), (20, 60)]:
        save_raw(grad.resize((w, h), resample=f), f"grad-{fname}-{w}x{h}.rgb")


def shorter_side_to(pil_image, side):
    """The resizing shared by guided-diffusion's center_crop_arr and random_crop_arr."""
    while min(*pil_image.size) >= 2 * side:
        pil_image = pil_image.resize(tuple(x // 2 for x in pil_image.size), resample=Image.BOX)
    scale = side / min(*pil_image.size)
    return pil_image.resize(tuple(round(x * scale) for x in pil_image.size), resample=Image.BICUBIC)


def center_crop_arr(pil_image, image_size):
    arr = np.array(shorter_side_to(pil_image, image_size))
    crop_y = (arr.shape[0] - image_size) // 2
    crop_x = (arr.shape[1] - image_size) // 2
    return Image.fromarray(arr[crop_y: crop_y + image_size, crop_x: crop_x + image_size])


for s in (16, 32, 48):
    save_raw(center_crop_arr(big, s), f"big-center-{s}.rgb")

gray = Image.fromarray(smooth_noise(15, 20)[:, :, 0], mode="L")
gray.save("gray.png")
save_raw(gray, "gray.rgb")
pal = grad.quantize(16)
pal.save("palette.png")
save_raw(pal, "palette.rgb")


def random_crop_arr(pil_image, image_size, randrange, min_crop_frac=0.8, max_crop_frac=1.0):
    """guided-diffusion's random_crop_arr with its random.randrange passed in, so a test can replay the draws."""
    min_smaller_dim_size = math.ceil(image_size / max_crop_frac)
    max_smaller_dim_size = math.ceil(image_size / min_crop_frac)
    smaller_dim_size = randrange(min_smaller_dim_size, max_smaller_dim_size + 1)
    arr = np.array(shorter_side_to(pil_image, smaller_dim_size))
    crop_y = randrange(arr.shape[0] - image_size + 1)
    crop_x = randrange(arr.shape[1] - image_size + 1)
    return Image.fromarray(arr[crop_y: crop_y + image_size, crop_x: crop_x + image_size])


def replay(*draws):
    """A randrange that returns the given draws in order, checking each lies in the range asked for."""
    it = iter(draws)

    def randrange(start, stop=None):
        lo, hi = (0, start) if stop is None else (start, stop)
        v = next(it)
        assert lo <= v < hi, (v, lo, hi)
        return v
    return randrange


# name: (image, size, draws); the Java test replays the same draws (as offsets from each range's start)
for name, (img, size, draws) in {"big-random-32-s37-y3-x11": (big, 32, (37, 3, 11)),
                                 "grad-random-16-s20-y4-x0": (grad, 16, (20, 4, 0))}.items():
    save_raw(random_crop_arr(img, size, replay(*draws)), name + ".rgb")


def composited(img):
    return Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))


def raw_png(name, arr, color_type):
    """A 16-bit PNG written by hand (Pillow 9.4 cannot save 16-bit colour); arr is uint16 [H, W, C]."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    h, w = arr.shape[:2]
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in arr)
    with open(name, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


small = grad.crop((0, 0, 20, 15))
alpha = Image.fromarray(np.clip(rng.normal(128, 100, (15, 20)), 0, 255).astype(np.uint8), mode="L")
rgba = small.copy()
rgba.putalpha(alpha)
rgba.save("rgba.png")
save_raw(composited(rgba), "rgba.rgb")
la = small.convert("L")
la.putalpha(alpha)
la.save("la.png")
save_raw(composited(la), "la.rgb")
# a palette whose entry 3 is transparent (tRNS chunk)
pal_t = small.quantize(8)
pal_t.info["transparency"] = 3
pal_t.save("palette-trns.png", transparency=3)
save_raw(composited(Image.open("palette-trns.png")), "palette-trns.rgb")
pal_t.save("palette-trns.gif", transparency=3)
save_raw(composited(Image.open("palette-trns.gif")), "palette-trns-gif.rgb")
# gray and RGB with one colour marked transparent (tRNS chunk)
gray_t = small.convert("L")
gray_t.save("gray-trns.png", transparency=int(np.asarray(gray_t)[0, 0]))
save_raw(composited(Image.open("gray-trns.png")), "gray-trns.rgb")
small.save("rgb-trns.png", transparency=tuple(int(v) for v in np.asarray(small)[2, 3]))
save_raw(composited(Image.open("rgb-trns.png")), "rgb-trns.rgb")
small.save("small.bmp")
save_raw(small, "small.rgb")
grad.save("grad-420.jpg", quality=85)
save_raw(Image.open("grad-420.jpg"), "grad-420-jpg.rgb")
grad.save("grad-444.jpg", quality=85, subsampling=0)
save_raw(Image.open("grad-444.jpg"), "grad-444-jpg.rgb")
gray.save("gray.jpg", quality=85)
save_raw(Image.open("gray.jpg"), "gray-jpg.rgb")

# 16 bits: Pillow keeps the high byte of RGB, RGBA and gray+alpha samples ...
wide = (rng.integers(0, 65536, (15, 20, 4))).astype(np.uint16)
wide[..., 3] = np.array(alpha, dtype=np.uint16) * 257 + rng.integers(0, 257, (15, 20)).astype(np.uint16)
raw_png("rgb16.png", wide[..., :3], 2)
save_raw(Image.open("rgb16.png"), "rgb16.rgb")
raw_png("rgba16.png", wide, 6)
save_raw(composited(Image.open("rgba16.png")), "rgba16.rgb")
# ... but opens 16-bit gray as mode "I", whose convert("RGB") clips every value above 255 to white.
# ImageFiles keeps the high byte there too; gray16.rgb holds that, not Pillow's clipped image.
raw_png("gray16.png", wide[..., :1], 0)
assert Image.open("gray16.png").mode == "I"
np.repeat((wide[..., :1] >> 8).astype(np.uint8), 3, axis=-1).tofile("gray16.rgb")
