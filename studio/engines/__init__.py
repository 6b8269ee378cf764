"""Algorithms on nets, one engine class per tool. Qt-free; engines never read or write files.

The shape every engine follows: `Engine(model, device)` loads what it needs once (the model
cache keeps it); `engine.run(image, mask, options, job) -> image` runs it per image, where
`mask` is None for tools without one and `options` is the tool's frozen options dataclass
(studio/catalogue.py), so per-run choices never reload a network.
"""
