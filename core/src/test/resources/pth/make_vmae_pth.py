"""A VMAE checkpoint as MAE's misc.save_model writes it, for maetok4j's convert tests.

The weights are the vmae-small fixture's (../fixtures/vmae-small/model.safetensors), saved by torch.save in
the dict layout of the released vmaef8d16.pth: {'model', 'optimizer', 'epoch', 'scaler', 'args'}, where
'args' is an argparse.Namespace (so the restricted reader must be told to allow it).

Regenerate with Debian's python3-torch 1.13, from this folder:
    /usr/bin/python3 make_vmae_pth.py
"""
import argparse
import collections
import json
import struct

import numpy as np
import torch


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = collections.OrderedDict()
    for name, v in header.items():
        if name == "__metadata__":
            continue
        assert v["dtype"] == "F32", name
        start, end = v["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + start:8 + n + end], dtype="<f4").reshape(v["shape"]).copy())
    return out


model = read_safetensors("../fixtures/vmae-small/model.safetensors")
args = argparse.Namespace(model="mae_for_ldmae_f8d16_prev", input_size=32, batch_size=8, epochs=1, lr=None, blr=1.5e-4,
                          output_dir="./output_dir", seed=0)
torch.save({"model": model, "optimizer": {"state": {}, "param_groups": [{"lr": 1.5e-4, "params": []}]}, "epoch": 0,
            "scaler": {"scale": 65536.0}, "args": args}, "vmae-small.pth")
