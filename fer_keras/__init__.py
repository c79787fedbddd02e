"""fer-keras: reproductions of published FER-2013 papers in Keras 3.

The public API, for a script or a notebook:

    from fer_keras import Predictor, top_emotion, create_model

    top_emotion("photo.jpg")                       # ("happy", 0.91), the default model
    Predictor.from_pretrained("ozer/csv-ozer_cnn_lstm").predict("photo.jpg")
    create_model("ozer_cnn_lstm")                  # a paper's architecture, untrained

The package is its wings (docs/architecture.md): core/, data/, models/, claims/, reports/,
train/, use/, and cli/ above them. The names below are loaded on first use, so that
`import fer_keras` stays light (no TensorFlow until a model is asked for).
"""

__version__ = "0.1.0"

# name -> the module that defines it
_PUBLIC = {
    "Predictor": "fer_keras.use.predict",
    "top_emotion": "fer_keras.use.predict",
    "create_model": "fer_keras.models.registry",
    "list_models": "fer_keras.models.registry",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        module = importlib.import_module(_PUBLIC[name])
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fer_keras' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_PUBLIC])
