"""Reference values for the PatchGAN and DINO discriminator heads (maetok4j tests).

Run once with Debian's python3 (torch 1.13): `python3 make_discriminators.py`. Re-implements, from the
reference's structure (JimmmmmL/continuous_tokenizer @ f4d60a0, modelling/discriminators/
discriminator_patchgan.py and discriminator_dino.py), small instances with the same module paths, so the
state-dict keys are the reference's. Differences, both without effect in one process: the DINO heads'
SyncBatchNorm is BatchNorm1d (SyncBatchNorm refuses CPU tensors), and the frozen DINO backbone is absent
(its outputs, the heads' inputs, are random here).

Writes safetensors by hand (no safetensors package in Debian): for each network a `*-model.safetensors`
(its state dict before the forward passes) and a `*-io.safetensors` (inputs, outputs, and state after).
"""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def save(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().cpu().contiguous().numpy()
        dtype = {np.float32: "F32", np.int64: "I64"}[a.dtype.type]
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


# ---- PatchGAN: taming's NLayerDiscriminator with BatchNorm2d (use_actnorm=False) ----
class NLayer(nn.Module):
    def __init__(self, input_nc, ndf, n_layers):
        super().__init__()
        seq = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=False), nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.main = nn.Sequential(*seq)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight.data, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight.data, 1.0, 0.02)
                nn.init.constant_(m.bias.data, 0)

    def forward(self, x):
        return self.main(x)


# ---- DINO heads: make_block / ResidualBlock / SpectralConv1d of DinoDisc ----
def spectral_conv1d(cin, cout, k, padding, mode):
    return nn.utils.spectral_norm(nn.Conv1d(cin, cout, k, padding=padding, padding_mode=mode),
                                  n_power_iterations=1, eps=1e-12, dim=0)


def make_block(c, k, eps):
    return nn.Sequential(spectral_conv1d(c, c, k, k // 2, "circular"), nn.BatchNorm1d(c, eps=eps), nn.LeakyReLU(0.2, True))


class Residual(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.ratio = 1 / np.sqrt(2)

    def forward(self, x):
        return self.fn(x).add(x).mul_(self.ratio)


class Heads(nn.Module):
    def __init__(self, c, n, ks, eps):
        super().__init__()
        self.heads = nn.ModuleList([
            nn.Sequential(make_block(c, 1, eps), Residual(make_block(c, ks, eps)), spectral_conv1d(c, 1, 1, 0, "zeros"))
            for _ in range(n)])

    def forward(self, acts):  # acts: list of [B, C, T]
        b = acts[0].shape[0]
        return torch.cat([h(a).view(b, -1) for h, a in zip(self.heads, acts)], dim=1)


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def main():
    torch.manual_seed(1234)

    # PatchGAN: ndf 8, 3 layers, [2, 3, 32, 32] → [2, 1, 2, 2]; running stats drawn away from (0, 1)
    d = NLayer(3, 8, 3)
    with torch.no_grad():
        for m in d.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
    save("patchgan-model.safetensors", state(d))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    d.train()
    with torch.no_grad():
        y_train = d(x)
    after = {"after." + k: v for k, v in state(d).items() if "running" in k or "num_batches" in k}
    d.eval()
    with torch.no_grad():
        y_eval = d(x)
    save("patchgan-io.safetensors", {"images": x, "logits_train": y_train, "logits_eval": y_eval, **after})

    # DINO heads: C 32, 5 levels, T 16, k 9, eps 1e-6; BN affine and running stats drawn away from (1, 0, 0, 1)
    h = Heads(32, 5, 9, 1e-6)
    with torch.no_grad():
        for m in h.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    save("dino-heads-model.safetensors", state(h))
    feats = [torch.randn(3, 16, 32) for _ in range(5)]  # [B, T, C], as the Java backbone contract returns them
    for f in feats:
        f.requires_grad_(True)
    weights = torch.randn(3, 5 * 16)
    h.train()
    y_train = h([f.transpose(1, 2) for f in feats])
    (y_train * weights).sum().backward()
    io = {f"features.{i}": f for i, f in enumerate(feats)}
    io["grad_features.0"] = feats[0].grad
    io["grad_features.4"] = feats[4].grad
    for k in ("heads.0.0.0.weight_orig", "heads.0.1.fn.0.weight_orig", "heads.2.2.weight_orig", "heads.3.1.fn.1.weight"):
        io["grad." + k] = dict(h.named_parameters())[k].grad
    io.update({"after." + k: v for k, v in state(h).items()
               if "running" in k or "num_batches" in k or k.endswith("_u") or k.endswith("_v")})
    h.eval()
    with torch.no_grad():
        y_eval = h([f.transpose(1, 2) for f in feats])
    io.update({"weights": weights, "logits_train": y_train, "logits_eval": y_eval})
    save("dino-heads-io.safetensors", io)

    # the backbone's input resize: area when shrinking, bicubic when enlarging (align_corners=False)
    big = torch.rand(2, 3, 40, 37) * 4 - 2
    small = torch.rand(2, 3, 24, 21) * 4 - 2
    save("resize-io.safetensors", {
        "big": big, "big_area_32": F.interpolate(big, size=(32, 32), mode="area"),
        "small": small, "small_bicubic_32": F.interpolate(small, size=(32, 32), mode="bicubic")})


if __name__ == "__main__":
    main()
