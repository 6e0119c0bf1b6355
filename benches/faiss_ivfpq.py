"""Peer of the IVF-PQ benchmark: faiss IndexIVFPQ + IndexRefineFlat on the same files, one
thread, one query per call, the best of `repeats` interleaved rounds per nprobe (as peer-worker.ts). Prints one JSON line in the shape of
peer-worker.ts's WorkerResult (the knob `ef` holds nprobe). Run by benches/ivfpq.ts inside the
venv it creates (.tools/faiss-venv).
argv: JSON {"base", "queries", "gt", "m", "nprobes", "repeats", "rerank"}."""
import json
import sys
import time

import faiss
import numpy as np


def read_vecs(path, dtype):
    a = np.fromfile(path, dtype=np.int32)
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].copy().view(dtype)


spec = json.loads(sys.argv[1])
faiss.omp_set_num_threads(1)
xb = read_vecs(spec["base"], np.float32)
xq = read_vecs(spec["queries"], np.float32)
gt = read_vecs(spec["gt"], np.int32)
n, dim = xb.shape
nlist = max(1, int(round(n ** 0.5)))
t0 = time.perf_counter()
ivf = faiss.IndexIVFPQ(faiss.IndexFlatL2(dim), dim, nlist, spec["m"], 8)
ivf.train(xb)
index = faiss.IndexRefineFlat(ivf)
index.k_factor = spec["rerank"]
index.add(xb)
build = time.perf_counter() - t0
def timed(nprobe):
    ivf.nprobe = nprobe
    t0 = time.perf_counter()
    found = [index.search(xq[i : i + 1], 10)[1][0] for i in range(len(xq))]
    return len(xq) / (time.perf_counter() - t0), found


# As peer-worker.ts: every point warmed up, then rounds that time each point once in turn;
# the best round is kept per point.
nprobes = spec["nprobes"]
for nprobe in nprobes:
    ivf.nprobe = nprobe
    for i in range(min(len(xq), 50)):
        index.search(xq[i : i + 1], 10)
rates = {p: [] for p in nprobes}
found = {}
for _ in range(spec["repeats"]):
    for nprobe in nprobes:
        qps, found[nprobe] = timed(nprobe)
        rates[nprobe].append(qps)
sweep = []
for nprobe in nprobes:
    best = max(rates[nprobe])
    recall = float(np.mean([len(set(found[nprobe][i]) & set(gt[i, :10])) / 10 for i in range(len(xq))]))
    sweep.append({"ef": nprobe, "recall": recall, "qps": best, "qpsSpread": (best - min(rates[nprobe])) / best})
print(json.dumps({"lib": f"faiss {faiss.__version__}", "buildSeconds": build, "threads": 1, "rssBytesPerVector": 0,
                  "rssAfterQueriesBytesPerVector": 0, "codeBytesPerVector": ivf.code_size, "sweep": sweep}))
