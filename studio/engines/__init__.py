"""Algorithms on nets. Qt-free; each tool is loaded once and then run per image with a Job.

Shape every engine follows: build it once (loads its checkpoint on a device), then
`engine.run(inputs..., job=job) -> result arrays`. Engines never read or write files.
"""
