"""Table 3's tasks: how each turns its benchmark file into scoring requests and per-example rows.

``NAME=SOURCE``: a known NAME picks the method (as in ``contamination``, through the same loader
module, so example ``i`` is the same text in both reports); an unknown NAME needs a generic
SOURCE form: ``lines:PATH`` (each non-empty line scored alone, rolling) or ``PATH.jsonl#FIELD``
(each row's field, rolling).

| NAME                  | document scored (rolling)             | example (a row of examples/<NAME>.parquet) |
|-----------------------|---------------------------------------|--------------------------------------------|
| wikitext2, wikitext103 | article (top-level heading + lines)  | non-empty line (+ the empty lines after it) |
| ptb, 1bw              | the whole file                        | non-empty line                              |
| enwik8, text8         | the test split (last 5M bytes)        | the split                                   |
| lines:PATH, #FIELD    | each line / row                       | that line / row                             |
| lambada               | context -> " " + last word            | passage                                     |
| cbt-cn, cbt-ne        | story + question -> candidate + rest  | question block                              |

Rolling documents are de-tokenised (``detokenize.py``), encoded and scored in windows
(``windows.py``); each token's log-likelihood goes to the example whose (de-tokenised) text holds
the token's first byte, so the examples' sums are the documents' sums. ``n_words`` and ``n_bytes``
count the *original* text: an example's whitespace-separated words and UTF-8 bytes, and the first
example of a document also carries the difference to lm-eval's document count
``len(re.split(r"\\s+", document))`` (the empty strings the split makes at the ends), so per-word
perplexity over all examples equals lm-eval's document-level one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from webtext.contamination import benchmarks as bm
from webtext.errors import ConfigError
from webtext.eval.detokenize import DETOKENIZERS, identity
from webtext.eval.metrics import TASK_KINDS, task_kind
from webtext.eval.scorer import Request, Scored
from webtext.eval.windows import encode_pair, pair_input, rolling_windows

#: GPT-2's stop-word filter for LAMBADA (the paper: "adding a stop-word filter as an approximation
#: to this further increases accuracy"): NLTK's English stop words.
_STOPWORD_TEXT = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself
it its itself they them their theirs themselves what which who whom this that these those am is are was were be
been being have has had having do does did doing a an the and but if or because as until while of at by for with
about against between into through during before after above below to from up down in out on off over under again
further then once here there when where why how all any both each few more most other some such no nor not only own
same so than too very s t can will just don should now
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass
class Task:
    name: str  # as given
    kind: str  # metrics.METRICS key
    method: str  # rolling | lambada | cbt
    source: str
    documents: list[bm.Document] = field(default_factory=list)  # rolling
    passages: list[str] = field(default_factory=list)  # lambada
    questions: list[bm.CbtQuestion] = field(default_factory=list)  # cbt
    detokenize: Callable[[str], str] = identity

    @property
    def size(self) -> int:
        return len(self.documents) or len(self.passages) or len(self.questions)


def _canonical(name: str) -> str | None:
    key = name.lower().replace("_", "-")
    for known in TASK_KINDS:
        if key == known or key.replace("-", "") == known.replace("-", ""):
            return known
    return None


def _path(name: str, text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise ConfigError("--task", f"{name}: {path} not found")
    return path


def _check_nonempty(name: str, source: str, n: int) -> None:
    if n == 0:
        raise ConfigError("--task", f"{name}: no examples in {source}: give a non-empty test file")


def load_task(spec: str, limit: int | None = None) -> Task:
    """``NAME=SOURCE`` -> a task with its examples loaded (the first ``limit`` documents/examples)."""
    try:
        return _load_task(spec, limit)
    except ConfigError as exc:
        if exc.key == "--benchmark":  # the shared loaders name contamination's flag
            raise ConfigError("--task", exc.message) from exc
        raise


def _load_task(spec: str, limit: int | None) -> Task:
    name, source = bm.parse_spec(spec, "--task")
    known = _canonical(name)
    path_text, fld = bm._field_of(source)
    if known is None:  # contamination's rule: any other name needs an explicit generic form
        src = bm.resolve_source(name, source, "--task")
        if src.kind == "lines":
            docs = bm.line_documents(_path(name, src.path), "line")
        else:
            texts = (bm.load_hf(source, "--task") if src.kind == "hf"
                     else bm.load_jsonl(_path(name, src.path), src.field or "text", "--task"))
            docs = [bm.Document(t, [(i, 0, len(t))]) for i, t in enumerate(texts) if t]
        task = Task(name, "rolling", "rolling", source, documents=docs)
    else:
        kind = task_kind(known) or "rolling"
        path = _path(name, source.removeprefix("lines:") if not fld else path_text)
        if known == "lambada":
            task = Task(name, kind, "lambada", source, passages=bm.load_jsonl(path, fld) if fld
                        else bm.load_lambada(path))
        elif kind == "cbt":
            blocks = bm.parse_cbt(path)
            for i, b in enumerate(blocks):
                if not isinstance(b, bm.CbtQuestion) or not b.candidates:
                    raise ConfigError("--task", f"{name}: block {i} of {path} has no question line with candidates "
                                                "(`21 question\\tanswer\\t\\tcand1|cand2|...`): give CBT's own files")
                if bm.CBT_BLANK not in b.question:
                    raise ConfigError("--task", f"{name}: block {i} of {path}: the question has no {bm.CBT_BLANK}")
            task = Task(name, kind, "cbt", source, questions=blocks)  # type: ignore[arg-type]
        elif kind in ("bytes", "chars"):
            text = bm.LOADERS[known](path)[0]
            docs = [bm.Document(text, [(0, 0, len(text))])] if text else []
            task = Task(name, kind, "rolling", source, documents=docs)
        else:
            unit = "pages" if known.startswith("wikitext") else "file"
            if unit == "pages" and not any(bm.WIKITEXT_HEADING.match(line) for line in bm.load_lines(path)):
                raise ConfigError("--task", f"{name}: {path} has no article headings (lines ` = Title = `): give "
                                            "WikiText's own test file, or NAME=lines:PATH for other text")
            task = Task(name, kind, "rolling", source, documents=bm.line_documents(path, unit),
                        detokenize=DETOKENIZERS.get(known, identity))
    _check_nonempty(name, source, task.size)
    if limit is not None:
        task.documents, task.passages, task.questions = (
            _first_examples(task.documents, limit), task.passages[:limit], task.questions[:limit])
    return task


def _first_examples(documents: list[bm.Document], limit: int) -> list[bm.Document]:
    """The first ``limit`` documents, or where a file is one document (PTB, 1BW), its first
    ``limit`` examples (lines)."""
    if len(documents) != 1 or len(documents[0].spans) <= limit:
        return documents[:limit]
    doc = documents[0]
    spans = doc.spans[:limit]
    return [bm.Document(doc.text[: spans[-1][2]], spans)]


# ---------------------------------------------------------------------------------------------
# Rolling documents


_WHITESPACE = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


def _counted(text: str) -> np.ndarray:
    """Positions of the characters every de-tokenizer here keeps, in order: all but whitespace and
    ``@`` (they delete whitespace, ``@`` of ``@-@``, and replace ``N`` by ``1``, one for one)."""
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    return np.flatnonzero(~np.isin(cps, _WHITESPACE) & (cps != ord("@")))


def _boundaries(text: str, detok: str, ends: list[int]) -> list[int]:
    """Character positions in ``detok`` of the example boundaries ``ends`` (positions in ``text``
    right after a line end). When the de-tokenizer kept every newline, the k-th newline maps to
    the k-th. Otherwise (lm-eval's quote rule can join lines) the kept characters align the two
    texts: a boundary falls after the last newline between the last kept character before it and
    the first one after it (or on that first character when no newline is left between them)."""
    if text == detok:
        return ends
    if text.count("\n") == detok.count("\n") and all(e == len(text) or text[e - 1] == "\n" for e in ends):
        newlines = [m.end() for m in re.finditer("\n", detok)]
        return [len(detok) if e == len(text) else newlines[text.count("\n", 0, e) - 1] for e in ends]
    return _align_kept(text, detok, ends)


def _align_kept(text: str, detok: str, ends: list[int]) -> list[int]:
    kept_text, kept_detok = _counted(text), _counted(detok)
    if len(kept_text) != len(kept_detok):  # a de-tokenizer that changes more than spaces: scale
        scale = len(kept_detok) / max(len(kept_text), 1)
        counts = [round(int(np.searchsorted(kept_text, e)) * scale) for e in ends]
    else:
        counts = [int(np.searchsorted(kept_text, e)) for e in ends]
    out = []
    for e, k in zip(ends, counts, strict=True):
        if e == len(text):
            out.append(len(detok))
            continue
        after = int(kept_detok[k]) if k < len(kept_detok) else len(detok)
        before = int(kept_detok[k - 1]) + 1 if k > 0 else 0
        newline = detok.rfind("\n", before, after)
        out.append(newline + 1 if newline >= 0 else after)
    return out


@dataclass
class RollingPlan:
    requests: list[Request]
    owners: list[np.ndarray]  # per request: the example row of each scored token
    rows: dict[str, list[Any]]


def plan_rolling(task: Task, tokenizer: Any, token_len: np.ndarray, max_len: int, stride: int) -> RollingPlan:
    """``token_len``: the byte length of each token id."""
    rows: dict[str, list[Any]] = {"example": [], "loglikelihood": [], "n_tokens": [], "n_words": [], "n_bytes": []}
    texts = [task.detokenize(d.text) for d in task.documents]
    encoded = tokenizer.encode_batch(texts) if texts else []
    requests: list[Request] = []
    owners: list[np.ndarray] = []
    for doc, detok, ids in zip(task.documents, texts, encoded, strict=True):
        first_row = len(rows["example"])
        words = 0
        for index, start, end in doc.spans:
            piece = doc.text[start:end]
            rows["example"].append(index)
            rows["n_words"].append(len(piece.split()))
            rows["n_bytes"].append(len(piece.encode("utf-8")))
            rows["loglikelihood"].append(0.0)
            rows["n_tokens"].append(0)
            words += rows["n_words"][-1]
        rows["n_words"][first_row] += len(re.split(r"\s+", doc.text)) - words
        # each token's example: the span holding its first byte in the de-tokenised text
        ends = _boundaries(doc.text, detok, [e for _, _, e in doc.spans])
        end_bytes, done, prev = [], 0, 0
        for e in ends:
            done += len(detok[prev:e].encode("utf-8"))
            end_bytes.append(done)
            prev = e
        lengths = token_len[np.asarray(ids, dtype=np.int64)]
        starts = np.cumsum(lengths) - lengths
        owner = first_row + np.minimum(np.searchsorted(np.asarray(end_bytes), starts, side="right"),
                                       len(doc.spans) - 1)
        pos = 0
        for inp, n in rolling_windows(ids, tokenizer.eot_id, max_len, stride):
            requests.append(Request(rows["example"][owner[pos]], inp, ids[pos: pos + n]))
            owners.append(owner[pos: pos + n])
            pos += n
    return RollingPlan(requests, owners, rows)


def finish_rolling(plan: RollingPlan, scored: list[Scored]) -> dict[str, list[Any]]:
    n = len(plan.rows["example"])
    ll = np.zeros(n)
    counts = np.zeros(n, dtype=np.int64)
    for owner, s in zip(plan.owners, scored, strict=True):
        np.add.at(ll, owner, s.ll)
        np.add.at(counts, owner, 1)
    rows = dict(plan.rows)
    rows["loglikelihood"] = ll.tolist()
    rows["n_tokens"] = counts.tolist()
    return rows


# ---------------------------------------------------------------------------------------------
# LAMBADA and CBT


def lambada_split(text: str) -> tuple[str, str]:
    """lm-eval's lambada_openai: context = all but the last space-separated word, target = " " + it."""
    words = text.split(" ")
    return " ".join(words[:-1]), " " + words[-1]


def plan_lambada(task: Task, tokenizer: Any, max_len: int) -> tuple[list[Request], int]:
    requests, truncated = [], 0
    for i, text in enumerate(task.passages):
        context, target = lambada_split(text)
        if context:
            ctx, cont = encode_pair(_encoder(tokenizer), context, target)
        else:
            ctx, cont = [tokenizer.eot_id], tokenizer.encode_batch([target])[0]
        inp, _, cut = pair_input(ctx, cont, max_len)
        truncated += cut
        requests.append(Request(i, inp, cont, greedy=True, filtered=True))
    return requests, truncated


def finish_lambada(task: Task, scored: list[Scored], decode: Callable[[list[int]], str]) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {k: [] for k in ("example", "loglikelihood", "n_tokens", "n_words", "n_bytes",
                                                  "correct", "correct_stopword_filter", "prediction")}
    for i, (text, s) in enumerate(zip(task.passages, scored, strict=True)):
        target = lambada_split(text)[1]
        rows["example"].append(i)
        rows["loglikelihood"].append(float(s.ll.sum()))
        rows["n_tokens"].append(len(s.ll))
        rows["n_words"].append(1)
        rows["n_bytes"].append(len(target.encode("utf-8")))
        rows["correct"].append(bool(s.greedy))
        rows["correct_stopword_filter"].append(bool(s.filtered))
        rows["prediction"].append(decode(s.argmax or []))
    return rows


def stopword_mask(token_bytes: list[bytes], vocab: int) -> np.ndarray:
    """GPT-2's stop-word filter, as done here: at the first position of the target word the
    prediction is the most probable token that is not a whole stop word (a token whose text,
    spaces stripped and lower-cased, is in :data:`STOPWORDS`: `` the``, ``The``, `` of`` ...);
    the example is correct under the filter when that token is the target's first token and the
    target's other tokens are each the model's top prediction (as in ``accuracy``)."""
    mask = np.zeros(vocab, dtype=bool)
    for i, b in enumerate(token_bytes[:vocab]):
        mask[i] = b.decode("utf-8", errors="replace").strip().lower() in STOPWORDS
    return mask


def plan_cbt(task: Task, tokenizer: Any, max_len: int) -> tuple[list[Request], int]:
    """One request per candidate: context = the story's lines joined by spaces + the question up
    to the blank; continuation = the candidate + the rest of the question."""
    requests, truncated = [], 0
    for i, q in enumerate(task.questions):
        before, after = q.question.split(bm.CBT_BLANK, 1)
        context = " ".join([*q.story, before]) if q.story else before
        for cand in q.candidates:
            if context.strip():
                ctx, cont = encode_pair(_encoder(tokenizer), context, cand + after)
            else:
                ctx, cont = [tokenizer.eot_id], tokenizer.encode_batch([context + cand + after])[0]
            inp, _, cut = pair_input(ctx, cont, max_len)
            truncated += cut
            requests.append(Request(i, inp, cont))
    return requests, truncated


def finish_cbt(task: Task, scored: list[Scored]) -> dict[str, list[Any]]:
    """The candidate with the highest total log-likelihood is the prediction; ``loglikelihood``
    and ``n_tokens`` are those of the correct answer's continuation."""
    rows: dict[str, list[Any]] = {k: [] for k in ("example", "loglikelihood", "n_tokens", "n_words", "n_bytes",
                                                  "correct", "prediction")}
    pos = 0
    for i, q in enumerate(task.questions):
        lls = [float(s.ll.sum()) for s in scored[pos: pos + len(q.candidates)]]
        best = max(range(len(lls)), key=lls.__getitem__)
        answer = q.candidates.index(q.answer) if q.answer in q.candidates else None
        rows["example"].append(i)
        rows["loglikelihood"].append(lls[answer] if answer is not None else math.nan)
        rows["n_tokens"].append(len(scored[pos + answer].ll) if answer is not None else 0)
        rows["n_words"].append(1)
        rows["n_bytes"].append(len(q.answer.encode("utf-8")))
        rows["correct"].append(q.candidates[best] == q.answer)
        rows["prediction"].append(q.candidates[best])
        pos += len(q.candidates)
    return rows


def _encoder(tokenizer: Any) -> Callable[[str], list[int]]:
    return lambda s: tokenizer.encode_batch([s])[0]
