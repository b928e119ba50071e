"""DeepMind Control tasks as gymnasium envs for PlaNet (through shimmy), from states or from 64x64 pixels.

Registered in ``zoo.envs.ZOO_ENVS`` as ``CartpoleSwingup-v0`` (states) and ``CartpoleSwingupPixels-v0``
(pixels). They need the ``dmc`` extra (``pip install -e ".[dmc]"``: dm-control with a MuJoCo 3 that
serves it); the ``robotics`` extra installs beside it on that MuJoCo.
"""

from __future__ import annotations

import os

import gymnasium as gym

from agents.errors import ZooError
from agents.planet.wrappers import ActionRepeat, PixelObservation


def make_dmc_env(domain: str, task: str, pixels: bool = False, size: int = 64, camera_id: int = 0, action_repeat: int = 1,
                 render_mode: str | None = None) -> gym.Env:
    """A DeepMind Control task: flattened state vector, or ``size x size`` RGB frames when ``pixels``.

    :param domain: dm_control domain (``"cartpole"``)
    :param task: its task (``"swingup"``)
    :param pixels: observe rendered frames (uint8, HWC) instead of the state
    :param size: side of the frames
    :param camera_id: the camera rendered
    :param action_repeat: repeat each action this many physics steps (inside the pixel wrapper, so frames
        are rendered only when observed)
    :param render_mode: gymnasium render mode for the state version (``"rgb_array"`` for videos)
    """
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; read once, when dm_control is first imported
    try:
        import shimmy  # noqa: F401  (registers the dm_control/... ids)
    except ImportError:
        raise ZooError(f"{domain}-{task} needs DeepMind Control: pip install -e '.[dmc]' (dm-control, mujoco 3, shimmy)") from None
    env_id = f"dm_control/{domain}-{task}-v0"
    render_kwargs = {"width": size, "height": size, "camera_id": camera_id}
    mode = "rgb_array" if pixels else render_mode
    env = gym.make(env_id, render_mode=mode, render_kwargs=render_kwargs if pixels else None)
    if action_repeat > 1:
        env = ActionRepeat(env, action_repeat)
    return PixelObservation(env, size) if pixels else gym.wrappers.FlattenObservation(env)
