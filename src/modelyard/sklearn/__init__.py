"""scikit-learn estimators over modelyard models: `ModelyardClassifier`, `ModelyardRegressor`.

    from modelyard.sklearn import ModelyardClassifier
    clf = ModelyardClassifier(hidden=[64], epochs=50, random_state=0).fit(X, y)
    clf.predict_proba(X_test)

Needs scikit-learn 1.6 or later (its `validate_data` and estimator tags). Not imported by
`import modelyard`.
"""

import sklearn

if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) < (1, 6):
    raise ImportError(
        f"modelyard.sklearn needs scikit-learn 1.6 or later (found {sklearn.__version__}); "
        "upgrade it with pip install -U scikit-learn"
    )

from modelyard.sklearn.estimators import ModelyardClassifier, ModelyardRegressor  # noqa: E402

__all__ = ["ModelyardClassifier", "ModelyardRegressor"]
