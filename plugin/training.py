"""The forecaster's training recipe, one place for train_forecaster.py, the tune YAML's `train`
section and the reference tables. Chosen by validation loss (examples/recipe_search.py, results
in examples/README.md): a skip='linear' model starts at the least squares fit of its window;
Adam, the rate halved when the validation loss has not improved for patience // 2 epochs;
early stopping after `patience` such epochs, keeping the best epoch's weights, or the starting
weights when no epoch beat them on the validation split (a large encoder that only adds noise to
the linear start is then left at it). Deterministic for a seed (set it, and TensorFlow's op
determinism, before building the model)."""

from __future__ import annotations

EPOCHS = 60  # at most; early stopping ends most runs long before
PATIENCE = 8
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
SKIP_HEADROOM = 1.25  # training moves the skip's weights away from the least squares start


def skip_integer(data, skip='linear') -> int:
    """ts_transformer's skip_integer for a series: for skip='linear' the fewest integer bits (0-4)
    of the weights that hold the least squares fit of the window (datasets.LinearAR on the training
    split) with SKIP_HEADROOM. The weather series needs 0 (weights up to 0.78: steps of 1/128 at
    8 bits instead of 1/32), electricity 2 (up to 2.1). Other skips keep models.SKIP_INTEGER."""
    import numpy as np

    from .datasets import LinearAR
    from .models import SKIP_INTEGER

    if skip != 'linear':
        return SKIP_INTEGER

    fit = LinearAR.fit(data)
    largest = float(np.max(np.abs(np.append(fit.coef, fit.intercept)))) * SKIP_HEADROOM
    return next((i for i in range(5) if largest < 2.0**i), 4)


def fit_forecaster(model, data, epochs=EPOCHS, patience=PATIENCE, batch_size=BATCH_SIZE,
                   learning_rate=LEARNING_RATE) -> int:  # fmt: skip
    """Train `model` on data (vhdlspartan.datasets.Windows) with the recipe; returns the epochs run
    (0 when the starting weights were kept)."""
    import tensorflow as tf

    from .models import fit_linear_skip

    if 'skip' in {layer.name for layer in model.layers} and model.get_layer('skip').trainable:
        fit_linear_skip(model, data.x_train, data.y_train)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss='mse')
    start, start_loss = model.get_weights(), model.evaluate(data.x_val, data.y_val, verbose=0)
    callbacks = [
        tf.keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True),
        tf.keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(1, patience // 2), min_lr=learning_rate / 16),
    ]
    hist = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=epochs,
                     batch_size=batch_size, callbacks=callbacks, verbose=0)  # fmt: skip
    if min(hist.history['val_loss']) >= start_loss:
        model.set_weights(start)
        return 0
    return len(hist.history['loss'])
