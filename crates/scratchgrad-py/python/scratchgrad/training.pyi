import os
from typing import Any, Dict, Optional, Sequence, Union

def train(
    dataset: str = "mnist",
    arch: Optional[str] = None,
    epochs: Optional[int] = None,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    *,
    layers: Optional[str] = None,
    hidden: Optional[Union[str, Sequence[int]]] = None,
    activation: Optional[str] = None,
    engine: Optional[str] = None,
    batch_size: Optional[int] = None,
    lr: Optional[float] = None,
    optimizer: Optional[str] = None,
    schedule: Optional[str] = None,
    seed: Optional[int] = None,
    val_split: Optional[float] = None,
    data_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    threads: Optional[int] = None,
    progress: bool = True,
) -> Dict[str, Any]:
    """Trains a classifier as `scratchgrad train` does and returns what the run did."""
