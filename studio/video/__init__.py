"""Video restoration (issue 21): read and write video, masks that cover every frame, and the video
engines. Qt-free, like engines/; see engine.py for the contract the CLI and the GUI call.

    io.py       read frames (RGB, display orientation) and write H.264 with the audio copied, atomically
    masks.py    one mask for the whole clip, a mask video, or a key-frame mask that follows its object
    motion.py   the camera's motion between frames (homographies)
    scene.py    the scene engine: pixels other frames show are copied, the rest filled once and carried
    engine.py   the video engine contract and the engine `--engine auto|face|scene` dispatches to
    command.py  `studio inpaint-video`: files in, engine, file out (the video counterpart of commands.py)
"""
