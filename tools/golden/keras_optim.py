"""Keras's clipping and SGD update in float64 NumPy, shared by the optimizer golden generators
(optim_trajectories.py, agc_golden.py); run those, not this module."""
import numpy as np


# ---- Keras clipping (keras/optimizers/optimizer.py _clip_gradients, TF clip_ops) -------------

def keras_clip(grads, cfg):
    if cfg.get("clipnorm"):
        c = cfg["clipnorm"]
        return [g * c / max(np.linalg.norm(g), c) for g in grads]
    if cfg.get("global_clipnorm"):
        c = cfg["global_clipnorm"]
        gn = np.sqrt(sum(float(np.sum(g * g)) for g in grads))
        return [g * c * min(1.0 / gn, 1.0 / c) for g in grads]
    if cfg.get("clipvalue"):
        v = cfg["clipvalue"]
        return [np.clip(g, -v, v) for g in grads]
    return grads


# ---- keras/optimizers/sgd.py update_step: w, s["m"] updated in place ----------------------------

def keras_sgd(w, g, s, t, c):
    mu, lr = c.get("momentum", 0.0), c["learning_rate"]
    s["m"] = -g * lr + s["m"] * mu
    if c.get("nesterov"):
        w += -g * lr + s["m"] * mu
    else:
        w += s["m"]
