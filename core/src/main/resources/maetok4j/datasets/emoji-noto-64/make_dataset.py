"""Packs the Noto emoji set (npm emoji-datasource-google@16.0.0) into this folder.

    npm pack emoji-datasource-google@16.0.0     # sha256 fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438
    mkdir pkg && tar xzf emoji-datasource-google-16.0.0.tgz -C pkg
    /usr/bin/python3 make_dataset.py pkg/package          # Debian's python3-pil 9.4 and python3-numpy

Takes the base emoji (no skin-tone variants) that have a Google image, except the 'Component' category
(5 colour swatches), in the package's sort order; composites each 64x64 RGBA PNG over white; writes
gzipped IDX files: images [N, 64, 64, 3] uint8 RGB, labels [N] uint8 (index into classes.txt), and
index.tsv (image file, short name, category, subcategory) for each row.
"""
import gzip
import json
import struct
import sys

import numpy as np
from PIL import Image

pkg = sys.argv[1]
entries = json.load(open(f"{pkg}/emoji.json"))
entries = [e for e in entries if e.get("has_img_google") and e["category"] != "Component"]
entries.sort(key=lambda e: e["sort_order"])
classes = sorted({e["category"] for e in entries})
images = []
for e in entries:
    im = Image.open(f"{pkg}/img/google/64/{e['image']}").convert("RGBA")
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    images.append(np.asarray(Image.alpha_composite(white, im).convert("RGB"), dtype=np.uint8))
images = np.stack(images)
labels = np.array([classes.index(e["category"]) for e in entries], dtype=np.uint8)


def idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as f:
        f.write(header + array.tobytes())


idx("images-idx4-ubyte.gz", images)
idx("labels-idx1-ubyte.gz", labels)
with open("classes.txt", "w") as f:
    f.write("".join(c + "\n" for c in classes))
with open("index.tsv", "w") as f:
    f.write("image\tshort_name\tcategory\tsubcategory\n")
    for e in entries:
        f.write(f"{e['image']}\t{e['short_name']}\t{e['category']}\t{e['subcategory']}\n")
print(images.shape, {c: int((labels == i).sum()) for i, c in enumerate(classes)})
