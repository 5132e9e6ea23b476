"""The reference's positionalencoding1d (modelling/sit.py, re-typed here) for SiTTest, with Debian's torch 1.13:
    /usr/bin/python3 make_pos1d.py   -> pos1d.safetensors (key 'table' [8, 64] and [128, 1152] under 'xl')"""
import json, math, struct
import torch


def positionalencoding1d(d_model, length):
    pe = torch.zeros(length, d_model)
    position = torch.arange(0, length).unsqueeze(1)
    div_term = torch.exp((torch.arange(0, d_model, 2, dtype=torch.float) * -(math.log(10000.0) / d_model)))
    pe[:, 0::2] = torch.sin(position.float() * div_term)
    pe[:, 1::2] = torch.cos(position.float() * div_term)
    return pe


tensors = {"small": positionalencoding1d(64, 8), "xl": positionalencoding1d(1152, 128)}
header, blobs, off = {}, [], 0
for k, t in tensors.items():
    raw = t.contiguous().numpy().astype("<f4").tobytes()
    header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
    blobs.append(raw)
    off += len(raw)
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open("pos1d.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for b in blobs:
        f.write(b)
