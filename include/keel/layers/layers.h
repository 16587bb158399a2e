// Every layer keel provides: #include "keel/layers/layers.h".
#pragma once

#include "keel/layers/activation.h"
#include "keel/layers/activation_function.h"
#include "keel/layers/batch_normalization.h"
#include "keel/layers/dense.h"
#include "keel/layers/dropout.h"
#include "keel/layers/fixup_layers.h"
#include "keel/layers/flatten.h"
#include "keel/layers/initializers.h"
#include "keel/layers/input_layer.h"
#include "keel/layers/layer.h"
#include "keel/layers/merge.h"
