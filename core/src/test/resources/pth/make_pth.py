"""Writes the PyTorch checkpoint test files for TorchPickleTest and TorchCheckpointTest.

Run once with Debian's python3 (torch 1.13): `python3 make_pth.py` in this directory. Outputs (deterministic):
  checkpoint.pth        torch.save({"model": OrderedDict(...), "epoch": 3, ...}) in the zip format: every storage
                        type, a transpose, a slice and a tied key sharing one storage, an expanded (stride 0) view,
                        a 0-d tensor, an empty tensor, an nn.Parameter, _metadata (pickled with BUILD), and plain
                        values beside the model (float, str, bytes, tuple, list with a big int, None, bool)
  expected.safetensors  the model's tensors as torch sees them (contiguous, little-endian), written by hand
  pytorch_model.bin     a plain state dict at the top level, as Hugging Face saves it
  big_endian.pth        a zip checkpoint whose byteorder record says "big", with storages byte-swapped to match
  malicious.pth         a checkpoint whose pickle calls os.system("touch MARKER") through REDUCE when unpickled
  namespace.pth         what MAE's misc.save_model writes: {"model", "optimizer" (a tiny AdamW state_dict after one
                        step), "epoch", "scaler" (a GradScaler's state_dict), "args" (an argparse.Namespace)}
  namespace-model.safetensors  its model's tensors as torch sees them
  legacy.pth            the pre-1.6 format (_use_new_zipfile_serialization=False)
  plain-protocolN.pkl   plain Python values (ints of every width, floats, str, bytes, tuples, None, bools, a list
                        shared through the memo) pickled with protocols 2 to 5, for the interpreter's opcodes
"""
import argparse
import collections
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import zipfile

import numpy as np
import torch

MARKER = "/tmp/maetok4j-torchpickle-marker"
SAFETENSORS_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}
assert sys.byteorder == "little"
torch.manual_seed(0)


def model():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    sd = collections.OrderedDict()
    sd["base"] = base
    sd["transposed"] = base.t()  # strides (1, 4)
    sd["slice"] = base[1:, 1:3]  # storage offset 5, strides (4, 1)
    sd["tied"] = base  # the same tensor again: a memo GET in the pickle
    sd["expanded"] = torch.tensor([1.5, -2.0]).expand(3, 2)  # strides (0, 1)
    sd["scalar"] = torch.tensor(3.25)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 3))
    sd["f64"] = torch.randn(4, dtype=torch.float64)
    sd["f16"] = torch.randn(2, 2).half()
    sd["bf16"] = torch.randn(3).bfloat16()
    sd["i64"] = torch.tensor([-(2 ** 40), 0, 2 ** 62 + 7])
    sd["i32"] = torch.tensor([-5, 2 ** 31 - 1], dtype=torch.int32)
    sd["i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    sd["mask"] = torch.tensor([True, False, True])
    sd["empty"] = torch.zeros(0, 3)
    sd._metadata = collections.OrderedDict([("", {"version": 1})])  # as nn.Module.state_dict() sets it
    return sd


def raw_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = raw_bytes(t)
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def big_endian(path, tensors):
    """torch.save's zip with a byteorder record "big" and each storage swapped (key i is the i-th tensor's)."""
    buf = io.BytesIO()
    torch.save(tensors, buf)
    dtypes = [t.numpy().dtype for t in tensors.values()]
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            prefix, _, key = info.filename.rpartition("/")
            if prefix.endswith("/data"):
                data = np.frombuffer(data, dtype=dtypes[int(key)]).byteswap().tobytes()
            dst.writestr(zipfile.ZipInfo(info.filename), data)
        dst.writestr(zipfile.ZipInfo("archive/byteorder"), b"big")


def legacy(path, obj):
    """The pre-1.6 format, with its storage keys (memory addresses) replaced by their indices."""
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    stream = io.BytesIO(data)
    for _ in range(3):  # magic number, protocol version, sys info
        pickle.load(stream)
    for _ in pickletools.genops(stream):  # the object, skipped
        pass
    for i, key in enumerate(pickle.load(stream)):  # the storage keys, pickled as BINUNICODE
        data = data.replace(b"X" + struct.pack("<I", len(key)) + key.encode(), b"X\x01\x00\x00\x00" + str(i).encode())
    with open(path, "wb") as f:
        f.write(data)


def plain():
    shared = [1]
    return {"int": [0, 255, 65535, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 63), 2 ** 63, -(2 ** 70)],
            "float": [0.1, -2.5e300], "str": ["", "h\u00e9llo \u2713", "x" * 300],
            "tuple": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)], "other": [True, False, None],
            "bytes": b"\x00\x01\xff", 7: "int key", (1, "a"): "tuple key", "shared": [shared, shared]}


class Touch:
    """Unpickled, this runs os.system: what a malicious checkpoint does."""

    def __reduce__(self):
        return os.system, ("touch " + MARKER,)


sd = model()
torch.save({"model": sd, "epoch": 3, "best": 0.25, "tag": "vmae", "blob": b"\x00\x01\xff", "betas": (0.9, 0.999),
            "steps": [1, 2, 2 ** 70], "none": None, "flag": True}, "checkpoint.pth")
write_safetensors("expected.safetensors", sd)
torch.save(collections.OrderedDict([("w", torch.ones(2, 2)), ("b", torch.tensor([0.5, -0.5]))]), "pytorch_model.bin")
big_endian("big_endian.pth", {"f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4,
                              "f16": torch.tensor([1.5, -2.0], dtype=torch.float16),
                              "i64": torch.tensor([-(2 ** 40), 7])})
torch.save({"model": {"w": torch.ones(2)}, "hook": Touch()}, "malicious.pth")


def save_model():
    """MAE's misc.save_model after one training step of a tiny model (its scaler's CUDA state written out)."""
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    optimizer = torch.optim.AdamW(net.parameters(), lr=1.5e-4, betas=(0.9, 0.95))
    net(torch.randn(4, 3)).pow(2).mean().backward()
    optimizer.step()
    args = argparse.Namespace(batch_size=64, epochs=400, model="vmae_base", input_size=256, mask_ratio=0.75,
                              norm_pix_loss=False, weight_decay=0.05, lr=None, blr=1.5e-4, output_dir="./output_dir",
                              device="cuda", seed=0, resume="", pin_mem=True, world_size=1, distributed=False)
    scaler = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
              "_growth_tracker": 0}
    torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 399, "scaler": scaler,
                "args": args}, "namespace.pth")
    write_safetensors("namespace-model.safetensors", net.state_dict())


save_model()
legacy("legacy.pth", {"w": torch.ones(2)})
for protocol in (2, 3, 4, 5):
    with open(f"plain-protocol{protocol}.pkl", "wb") as f:
        pickle.dump(plain(), f, protocol=protocol)
