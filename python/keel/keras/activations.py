"""keras.activations: keel computes activations in C++, so these are their Keras names; passing
one (activation=keras.activations.relu) is the same as passing the string."""


class _Activation(str):
    """A Keras activation name that prints like the function it stands for."""

    def __repr__(self):
        return f"<keel activation '{self}'>"


linear = _Activation("linear")
relu = _Activation("relu")
elu = _Activation("elu")
selu = _Activation("selu")
leaky_relu = _Activation("leaky_relu")
tanh = _Activation("tanh")
sigmoid = _Activation("sigmoid")
softmax = _Activation("softmax")
softplus = _Activation("softplus")
gelu = _Activation("gelu")
swish = _Activation("swish")


def get(identifier):
    return linear if identifier is None else identifier
