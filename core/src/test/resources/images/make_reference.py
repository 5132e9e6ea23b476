"""Reference outputs of Pillow for the image tests (maetok4j.data.*Test).

Regenerate with Debian's Pillow 9.4 (apt-get install python3-pil python3-numpy), from this folder:
    /usr/bin/python3 make_reference.py
Writes small PNG inputs and the expected uint8 RGB outputs as raw .rgb files (H*W*3 bytes, row-major).
"""
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

filters = {"box": Image.BOX, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}
for fname, f in filters.items():
    for (w, h) in [(16, 11), (37, 9), (50, 40), (5, 23)]:
        save_raw(grad.resize((w, h), resample=f), f"grad-{fname}-{w}x{h}.rgb")


def center_crop_arr(pil_image, image_size):
    while min(*pil_image.size) >= 2 * image_size:
        pil_image = pil_image.resize(tuple(x // 2 for x in pil_image.size), resample=Image.BOX)
    scale = image_size / min(*pil_image.size)
    pil_image = pil_image.resize(tuple(round(x * scale) for x in pil_image.size), resample=Image.BICUBIC)
    arr = np.array(pil_image)
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
