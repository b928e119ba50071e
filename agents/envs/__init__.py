"""Environment definitions the algorithms need; ``zoo.envs.ZOO_ENVS`` registers them as gymnasium ids."""
