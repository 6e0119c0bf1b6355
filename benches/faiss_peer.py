"""faiss as a peer of the benchmarks, on the same files as the Node workers: IndexHNSWFlat (the
HNSW workload) or IndexIVFPQ + IndexRefineFlat (the IVF-PQ comparison). The build uses the
threads named in the spec; queries run on one thread, one query per call, the best of
`repeats` interleaved rounds per sweep point (as peer-worker.ts; with "driven", the rounds
come when the parent says, interleaved with the other libraries', see rounds.ts). Prints one JSON line in the
shape of peer-worker.ts's WorkerResult (`ef` holds efSearch, or nprobe). Run by benches/faiss.ts
inside the venv it creates (.tools/faiss-venv).
argv: JSON {"index": "hnsw" | "ivfpq", "base", "queries", "gt", "repeats", "buildThreads",
            hnsw: "m", "efConstruction", "efs"; ivfpq: "m" (sub-spaces), "nprobes", "rerank"}."""
import json
import resource
import sys
import time

import faiss
import numpy as np


def read_vecs(path, dtype):
    a = np.fromfile(path, dtype=np.int32)
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].copy().view(dtype)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


spec = json.loads(sys.argv[1])
xb = read_vecs(spec["base"], np.float32)
xq = read_vecs(spec["queries"], np.float32)
gt = read_vecs(spec["gt"], np.int32)
n, dim = xb.shape
# Cosine: unit vectors and inner product, as faiss users run it.
cosine = spec.get("metric") == "cosine"
if cosine:
    faiss.normalize_L2(xb)
    faiss.normalize_L2(xq)
threads = spec.get("buildThreads", 1)
faiss.omp_set_num_threads(threads)
rss0 = rss_bytes()
t0 = time.perf_counter()
if spec["index"] == "hnsw":
    index = faiss.IndexHNSWFlat(dim, spec["m"], faiss.METRIC_INNER_PRODUCT if cosine else faiss.METRIC_L2)
    index.hnsw.efConstruction = spec["efConstruction"]
    index.add(xb)
    knobs = spec["efs"]

    def set_knob(ef):
        index.hnsw.efSearch = ef

    code_size = None
else:
    nlist = max(1, int(round(n ** 0.5)))
    if cosine:
        coarse = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFPQ(coarse, dim, nlist, spec["m"], 8, faiss.METRIC_INNER_PRODUCT)
    else:
        coarse = faiss.IndexFlatL2(dim)
        ivf = faiss.IndexIVFPQ(coarse, dim, nlist, spec["m"], 8)
    ivf.train(xb)
    index = faiss.IndexRefineFlat(ivf)
    index.k_factor = spec["rerank"]
    index.add(xb)
    knobs = spec["nprobes"]

    def set_knob(nprobe):
        ivf.nprobe = nprobe

    code_size = ivf.code_size
build = time.perf_counter() - t0
rss1 = rss_bytes()
faiss.omp_set_num_threads(1)


def timed(knob):
    set_knob(knob)
    t0 = time.perf_counter()
    found = [index.search(xq[i : i + 1], 10)[1][0] for i in range(len(xq))]
    return len(xq) / (time.perf_counter() - t0), found


# As peer-worker.ts: every point warmed up, then rounds that time each point once in turn;
# the best round is kept per point.
for knob in knobs:
    set_knob(knob)
    for i in range(len(xq)):
        index.search(xq[i : i + 1], 10)
rates = {p: [] for p in knobs}
found = {}


def one_round():
    for knob in knobs:
        qps, found[knob] = timed(knob)
        rates[knob].append(qps)


if spec.get("driven"):
    # Rounds when the parent says (rounds.ts), interleaved with the other libraries'.
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() == "done":
            break
        one_round()
        print(json.dumps({"round": len(rates[knobs[0]])}), flush=True)
else:
    for _ in range(spec["repeats"]):
        one_round()
sweep = []
for knob in knobs:
    best = max(rates[knob])
    recall = float(np.mean([len(set(found[knob][i]) & set(gt[i, :10])) / 10 for i in range(len(xq))]))
    sweep.append({"ef": knob, "recall": recall, "qps": best, "qpsSpread": (best - min(rates[knob])) / best})
result = {"lib": f"faiss {faiss.__version__}", "buildSeconds": build, "threads": threads,
          "rssBytesPerVector": (rss1 - rss0) / n, "rssAfterQueriesBytesPerVector": (rss_bytes() - rss0) / n,
          "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
          "sweep": sweep}
if code_size is not None:
    result["codeBytesPerVector"] = code_size
print(json.dumps(result))
