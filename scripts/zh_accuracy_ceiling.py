"""How accurate can a model trained only on the reviews-zh train split be? Strong n-gram baselines.

    python scripts/zh_accuracy_ceiling.py        # ~30 s on 2 cores

Prints validation and test accuracy of two classic text classifiers trained on the same split as
``charbert-reviews-zh``: TF-IDF character 1-3-grams with logistic regression and with a linear SVM.
On this deduplicated data they land near 0.85, which is what a small character model trained from
scratch in a few minutes can at best approach; they are the reference for the built-in model's
accuracy (see its model card), not a built-in model themselves (they have no attention or
gradients to explain).
"""
from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from xaibench.datasets import load_dataset


def main() -> None:
    train, val, test = (load_dataset("reviews-zh", split=s) for s in ("train", "validation", "test"))
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    x_train = vec.fit_transform(train.texts)
    print(f"reviews-zh: train {len(train)}, validation {len(val)}, test {len(test)}")
    for name, clf in [("char 1-3-gram TF-IDF + logistic regression (C=10)", LogisticRegression(C=10.0, max_iter=2000)),
                      ("char 1-3-gram TF-IDF + linear SVM (C=0.5)", LinearSVC(C=0.5))]:
        clf.fit(x_train, train.labels)
        accs = [float(np.mean(clf.predict(vec.transform(d.texts)) == np.asarray(d.labels))) for d in (val, test)]
        print(f"{name}: validation {accs[0]:.4f}, test {accs[1]:.4f}")


if __name__ == "__main__":
    main()
