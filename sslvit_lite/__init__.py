"""sslvit-lite: implement, train and analyse self-supervised ViTs (CL vs MIM).

A companion package to the book reproducing Park et al., "What Do Self-Supervised Vision
Transformers Learn?", ICLR 2023. One concept per module; see the book for the story.
"""

__version__ = "0.1.0"

# Where the book and the Colab install guard fetch the package from.
REPOSITORY_URL = "https://github.com/sslvit-lite/sslvit-lite"
