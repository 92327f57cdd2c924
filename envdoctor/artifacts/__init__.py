"""Model artifacts read as data, never loaded: which libraries and versions wrote them, what
loading them imports and calls, and whether that runs code. Nothing here unpickles, imports the
libraries named, or reads more than its limits allow."""

# The names of the model files read (a folder is read for these); ".joblib.gz" and the like too.
ARTIFACT_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".safetensors", ".keras", ".skops", ".onnx")


def is_artifact_name(name: str) -> bool:
    """A model file's name: joblib and pickle files (compressed ones too: model.joblib.gz), torch.save
    files, safetensors, Keras, skops and ONNX files."""
    lower = name.lower()
    return lower.endswith(ARTIFACT_SUFFIXES) or any(f"{suffix}." in lower for suffix in (".joblib", ".pkl"))
