"""BM25 of bm25s (method "lucene") over pre-tokenised documents: the reference the
cross-check compares LibraVDB's full-text search with. argv: a JSON file of
{ "docs": [[term...]...], "queries": [[term...]...], "k": int, "k1": float, "b": float };
prints per query the top-k document indices and scores as JSON."""
import json
import sys

import bm25s
import numpy as np

spec = json.load(open(sys.argv[1]))
retriever = bm25s.BM25(method="lucene", k1=spec["k1"], b=spec["b"])
retriever.index(spec["docs"], show_progress=False)
out = []
for q in spec["queries"]:
    # A term repeated in the query counts each time, as in Lucene and LibraVDB.
    scores = np.zeros(len(spec["docs"]))
    for term in q:
        scores += retriever.get_scores([term])
    top = [int(i) for i in np.argsort(-scores, kind="stable")[: spec["k"]] if scores[i] > 0]
    out.append({"ids": top, "scores": [float(scores[i]) for i in top]})
print(json.dumps(out))
