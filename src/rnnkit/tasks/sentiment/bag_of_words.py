"""Bag-of-words logistic regressions (scikit-learn) and their persistence (JSON + safetensors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ... import _files
from ... import _validation as V
from ...reporting import classification_metrics
from ...text import Tokenizer
from ._common import _texts

BAG_KINDS = ("counts", "tfidf", "nb")


class BagOfWords:
    """Bag-of-words logistic regressions (scikit-learn), the seed's contrast to a sequence model.

    ``kind`` picks the features:

    * ``'counts'``: binary word presence (the seed's bag of words);
    * ``'tfidf'``: sublinear TF-IDF of words and word n-grams up to ``ngram``;
    * ``'nb'``: NB-LR (Wang & Manning 2012): binary presence of words and n-grams up to
      ``ngram``, each scaled by its naive-Bayes log-count ratio
      ``log(p(term | positive) / p(term | negative))`` (add-one smoothed) before the logistic
      regression. The ratio is folded into the coefficients once trained, so a trained model is
      a plain linear score over binary n-gram presence.

    Terms seen in at least two training reviews are kept.
    """

    def __init__(self, kind: str = "tfidf", ngram: int = 2, max_features: int | None = None):
        V.choice("BagOfWords", "kind", kind, BAG_KINDS)
        self.kind = kind
        self.ngram = V.positive_int("BagOfWords", "ngram", ngram) if kind != "counts" else 1
        self.max_features = max_features
        self.name = {
            "counts": "bow_logreg",
            "tfidf": f"tfidf_1-{self.ngram}gram_logreg",
            "nb": f"nb_1-{self.ngram}gram_logreg",
        }[kind]

    def _vectorizer(self, **options):
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

        options.update(
            tokenizer=Tokenizer(), lowercase=False, token_pattern=None, ngram_range=(1, self.ngram)
        )
        if self.kind == "tfidf":
            return TfidfVectorizer(sublinear_tf=True, **options)
        return CountVectorizer(binary=True, **options)

    def fit(self, texts, labels) -> BagOfWords:
        from sklearn.linear_model import LogisticRegression

        texts = _texts("BagOfWords.fit", texts)
        labels = np.asarray(labels)
        self.vectorizer_ = self._vectorizer(min_df=2, max_features=self.max_features)
        features = self.vectorizer_.fit_transform(texts)
        C = {"counts": 0.1, "tfidf": 4.0, "nb": 0.1}[self.kind]
        self.classifier_ = LogisticRegression(
            C=C, max_iter=1000, solver="liblinear" if self.kind == "nb" else "lbfgs"
        )
        if self.kind == "nb":
            ratio = self._nb_ratio(features, labels)
            self.classifier_.fit(features.multiply(ratio).tocsr(), labels)
            self.classifier_.coef_ = self.classifier_.coef_ * ratio  # a score over presence
        else:
            self.classifier_.fit(features, labels)
        return self

    @staticmethod
    def _nb_ratio(features, labels) -> np.ndarray:
        """Naive-Bayes log-count ratio of each term (add-one smoothing)."""
        p = np.asarray(features[labels == 1].sum(0)).ravel() + 1.0
        q = np.asarray(features[labels == 0].sum(0)).ravel() + 1.0
        return np.log(p / p.sum()) - np.log(q / q.sum())

    def _require_fitted(self, method: str) -> None:
        if not hasattr(self, "classifier_"):
            raise RuntimeError(
                f"BagOfWords.{method}: the model is not trained; call fit(texts, labels)."
            )

    def decision_function(self, texts) -> np.ndarray:
        """Log-odds that each review is positive, shape ``(n,)``."""
        self._require_fitted("decision_function")
        texts = _texts("BagOfWords.decision_function", texts)
        return self.classifier_.decision_function(self.vectorizer_.transform(texts))

    def predict_proba(self, texts) -> np.ndarray:
        """Probability that each review is positive, shape ``(n,)``."""
        self._require_fitted("predict_proba")
        texts = _texts("BagOfWords.predict_proba", texts)
        return self.classifier_.predict_proba(self.vectorizer_.transform(texts))[:, 1]

    def prefix_scores(self, tokens: list[str]) -> np.ndarray:
        """Log-odds after each token of ``tokens`` (the review read up to that token), for
        presence features (``'counts'`` and ``'nb'``); ``[-1]`` equals
        :meth:`decision_function` on the whole review."""
        self._require_fitted("prefix_scores")
        if self.kind == "tfidf":
            raise ValueError(
                "BagOfWords.prefix_scores: `kind` expected 'counts' or 'nb' "
                "(presence features), received 'tfidf'."
            )
        index, coef = self.vectorizer_.vocabulary_, self.classifier_.coef_.reshape(-1)
        seen, score = set(), float(self.classifier_.intercept_[0])
        scores = np.empty(len(tokens))
        for k in range(len(tokens)):
            for n in range(1, self.ngram + 1):
                term = " ".join(tokens[k - n + 1 : k + 1]) if k + 1 >= n else None
                j = index.get(term) if term is not None else None
                if j is not None and j not in seen:
                    seen.add(j)
                    score += coef[j]
            scores[k] = score
        return scores

    def save(self, path, overwrite: bool = False) -> None:
        """Write ``path/`` atomically: ``bow.json`` (settings and the vocabulary of n-grams)
        and ``bow.safetensors`` (IDF weights, coefficients, intercept). No pickle. A bag of
        words already saved there is replaced; anything else is refused unless
        ``overwrite=True``."""
        self._require_fitted("save")
        _files.write_dir(
            path,
            self.write_files,
            owner="BagOfWords.save",
            is_ours=lambda existing: (existing / "bow.json").is_file(),
            managed=("bow.json", "bow.safetensors"),
            overwrite=overwrite,
        )

    def write_files(self, folder: Path) -> None:
        """Write ``bow.json`` and ``bow.safetensors`` into the existing ``folder``."""
        from safetensors.torch import save_file

        terms = [""] * len(self.vectorizer_.vocabulary_)
        for term, index in self.vectorizer_.vocabulary_.items():
            terms[index] = term
        tensors = {
            "coef": torch.from_numpy(self.classifier_.coef_.reshape(-1).copy()),
            "intercept": torch.from_numpy(self.classifier_.intercept_.copy()),
        }
        if self.kind == "tfidf":
            tensors["idf"] = torch.from_numpy(self.vectorizer_.idf_.copy())
        meta = {
            "kind": self.kind,
            "ngram": self.ngram,
            "max_features": self.max_features,
            "terms": terms,
        }
        (folder / "bow.json").write_text(json.dumps(meta), encoding="utf-8")
        save_file(tensors, str(folder / "bow.safetensors"))

    @classmethod
    def load(cls, path) -> BagOfWords:
        """Load what :meth:`save` wrote; anything else is refused with a clear error."""
        from safetensors.torch import load_file
        from sklearn.linear_model import LogisticRegression

        path = Path(path)
        try:
            meta = json.loads((path / "bow.json").read_text(encoding="utf-8"))
            tensors = load_file(str(path / "bow.safetensors"))
            if "kind" not in meta:  # written before NB-LR: {"tfidf": bool}
                meta["kind"] = "tfidf" if meta["tfidf"] else "counts"
                meta["ngram"] = 2 if meta["tfidf"] else 1
            model = cls(kind=meta["kind"], ngram=meta["ngram"], max_features=meta["max_features"])
            terms = list(meta["terms"])
            coef, intercept = tensors["coef"].numpy(), tensors["intercept"].numpy()
            if coef.shape != (len(terms),) or intercept.shape != (1,):
                raise ValueError(f"coef has shape {tuple(coef.shape)} for {len(terms)} terms")
            model.vectorizer_ = model._vectorizer(vocabulary=terms)
            model.vectorizer_.vocabulary_ = {term: k for k, term in enumerate(terms)}
            if model.kind == "tfidf":
                idf = tensors["idf"].numpy()
                if idf.shape != (len(terms),):
                    raise ValueError(f"idf has shape {tuple(idf.shape)} for {len(terms)} terms")
                model.vectorizer_.idf_ = idf
        except Exception as e:  # missing files, damaged JSON / safetensors, wrong shapes
            raise ValueError(
                f"BagOfWords.load: `path` expected a saved bag-of-words model, "
                f"received {str(path)!r}: {type(e).__name__}: {e}"
            ) from None
        model.classifier_ = LogisticRegression()
        model.classifier_.classes_ = np.array([0, 1])
        model.classifier_.coef_ = coef.reshape(1, -1)
        model.classifier_.intercept_ = intercept
        return model


def bag_of_words_baseline(
    train_texts,
    train_labels,
    test_texts,
    test_labels,
    kind: str = "tfidf",
    max_features: int | None = None,
) -> dict:
    """Train :class:`BagOfWords` on the training split and report its test metrics."""
    model = BagOfWords(kind=kind, max_features=max_features).fit(train_texts, train_labels)
    proba = model.predict_proba(test_texts)
    return {"model": model.name, **classification_metrics(np.asarray(test_labels), proba)}
