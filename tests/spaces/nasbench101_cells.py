"""NAS-Bench-101 cells with published facts, shared by the NB101 tests."""

#: The Inception-like cell of the official nasbench colab.
INCEPTION_MATRIX = [[0, 1, 1, 1, 0, 1, 0],
                    [0, 0, 0, 0, 0, 0, 1],
                    [0, 0, 0, 0, 0, 0, 1],
                    [0, 0, 0, 0, 1, 0, 0],
                    [0, 0, 0, 0, 0, 0, 1],
                    [0, 0, 0, 0, 0, 0, 1],
                    [0, 0, 0, 0, 0, 0, 0]]
INCEPTION_OPS = ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu",
                 "conv3x3-bn-relu", "maxpool3x3", "output"]
#: Its official module hash.
INCEPTION_HASH = "28cfc7874f6d200472e1a9dcd8650aa0"
