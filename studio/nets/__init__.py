"""Pure torch modules: no Qt, no file I/O. See registry.py for how checkpoints find them."""

from studio.nets import registry

# Every module that defines an architecture is listed here once.
for _m in ("studio.nets.tiny", "studio.nets.dcgan", "studio.nets.srresnet", "studio.nets.inpaint_net",
           "studio.nets.icgan", "studio.nets.span", "studio.nets.face_refiner"):
    registry.add_module(_m)
