"""`python -m tinygen.data download NAME [--root DIR] [--mirror URL]` (= `tinygen data ...`)."""
import sys

from .cli import main

sys.exit(main())
