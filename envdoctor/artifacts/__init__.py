"""Model artifacts read as data, never loaded: which libraries and versions wrote them, what
loading them imports and calls, and whether that runs code. Nothing here unpickles, imports the
libraries named, or reads more than its limits allow."""

import re

# The names of the model files read (a folder is read for these); ".joblib.gz" and the like too.
ARTIFACT_SUFFIXES = (
    ".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".safetensors", ".keras", ".skops", ".onnx", ".ubj",
    ".h5", ".hdf5",
)  # fmt: skip
# Names that models share with other files: read as models when their first bytes say so.
SNIFFED_SUFFIXES = (".json", ".txt", ".model", ".bst")
_XGBOOST_JSON = re.compile(rb'\s*\{\s*"learner"\s*:')
_LIGHTGBM_TEXT = re.compile(rb"tree\r?\nversion=v\d+\r?\n")


def is_artifact_name(name: str) -> bool:
    """A model file's name: joblib and pickle files (compressed ones too: model.joblib.gz), torch.save
    files, safetensors, Keras (and HDF5), skops, ONNX and XGBoost UBJSON files."""
    lower = name.lower()
    return lower.endswith(ARTIFACT_SUFFIXES) or any(f"{suffix}." in lower for suffix in (".joblib", ".pkl"))


def sniff_model(head: bytes) -> str | None:
    """A model whose file name does not tell, from its first 64 bytes: XGBoost's JSON or UBJSON
    (an object whose first key is "learner") or its legacy binary ("binf"), LightGBM's text
    ("tree", then "version=vN")."""
    if _XGBOOST_JSON.match(head) or (head.startswith(b"{") and b"learner{" in head[:32]) or head.startswith(b"binf"):
        return "xgboost"
    if _LIGHTGBM_TEXT.match(head):
        return "lightgbm"
    return None


def sniffs_as_model(path: str) -> bool:
    """Whether the file at ``path`` starts as an XGBoost or LightGBM model (unreadable, or not a
    regular file, which a read could wait on forever: no)."""
    from envdoctor.fsio import file_head

    head = file_head(path, 64)
    return head is not None and sniff_model(head) is not None
