"""Writes eigh.pt: torch.linalg.eigh as a TorchScript function, so that the JVM can call LAPACK's symmetric
eigensolver inside libtorch (DJL exposes no linear algebra). Run once with Debian's python3-torch 1.13:
    /usr/bin/python3 make_eigh.py
The file holds no weights; rerunning gives an equivalent module."""
import torch


class Eigh(torch.nn.Module):
    def forward(self, a: torch.Tensor):
        values, vectors = torch.linalg.eigh(a)
        return values, vectors


torch.jit.save(torch.jit.script(Eigh()), "eigh.pt")
