"""What the component fixtures share: reading a tools/ script's env file."""


def read_env(path):
    """The ``KEY=value`` lines a ``tools/<component>.sh start`` wrote."""
    env = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.strip().partition('=')
            if sep:
                env[key] = value
    return env
