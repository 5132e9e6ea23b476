"""A tiny feature network for maetok4j.metrics.FeatureNetworksTest, exported to TorchScript and ONNX.

Regenerate with Debian's torch 1.13 (no `onnx` package needed), from this folder:
    /usr/bin/python3 make_feature_net.py
Writes
  feature-net.pt           torch.jit.trace of the network
  feature-net.onnx         torch.onnx.export of the same network (opset 13, dynamic batch, static 3x32x32 input)
  feature-net.json         the sidecar both share (NAME.json beside NAME.pt and NAME.onnx)
  feature-net.safetensors  5 images [5, 3, 40, 40] in [-1, 1] and torch's outputs for them after the sidecar's
                           preprocessing (ImageNet mean/std, bilinear resize 40 -> 32), computed in float64
Weights are random (fixed seed); the values only have to agree between torch and Java. Deterministic: rerunning
leaves `git status` clean.
"""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(2024)

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
SIZE = 32


class FeatureNet(nn.Module):
    """conv s2, GELU, conv s2, BatchNorm (eval, non-trivial running stats), ReLU, conv, avg pool, linear.

    Returns (features [B, 64, 1, 1], logits [B, 10]): the features keep pytorch-fid's pooled-map shape so that the
    Java side's flattening of trailing 1x1 dimensions is exercised.
    """

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(32)
        self.c3 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64, 10)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)
            self.bn.weight.uniform_(0.5, 1.5)
            self.bn.bias.uniform_(-0.2, 0.2)

    def forward(self, x):
        h = F.gelu(self.c1(x))  # [B, 16, S/2, S/2]
        h = F.relu(self.bn(self.c2(h)))  # [B, 32, S/4, S/4]
        h = self.c3(h)  # [B, 64, S/4, S/4]
        features = F.adaptive_avg_pool2d(h, 1)  # [B, 64, 1, 1]
        return features, self.fc(features.flatten(1))  # [B, 10]


def preprocess(images):
    """What the sidecar tells Java to do: [-1, 1] -> [0, 1] -> ImageNet mean/std -> bilinear resize to SIZE."""
    mean = torch.tensor(MEAN, dtype=images.dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=images.dtype).view(1, 3, 1, 1)
    x = ((images + 1) / 2 - mean) / std
    return F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype=np.float32)
        raw = a.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


net = FeatureNet().eval()
example = torch.zeros(2, 3, SIZE, SIZE)

traced = torch.jit.trace(net, example)
torch.jit.save(traced, "feature-net.pt")

torch.onnx.export(net, example, "feature-net.onnx", opset_version=13, input_names=["images"],
                  output_names=["features", "logits"],
                  dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}, "logits": {0: "batch"}})

sidecar = {
    "kind": "features",
    "name": "tiny random conv net (make_feature_net.py)",
    "fid_inception": False,
    "input": {"mean": MEAN, "std": STD},
    "image_size": SIZE,
    "features_output": 0,
    "logits_output": 1,
    "dim": 64,
    "classes": 10,
}
with open("feature-net.json", "w") as f:
    json.dump(sidecar, f, indent=2)
    f.write("\n")

images = (torch.rand(5, 3, 40, 40) * 2 - 1).float()
with torch.no_grad():
    features, logits = net.double()(preprocess(images.double()))
save_safetensors("feature-net.safetensors", {
    "images": images.numpy(),
    "features": features.flatten(1).numpy(),  # [5, 64]
    "logits": logits.numpy(),  # [5, 10]
})
