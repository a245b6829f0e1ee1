"""The installed version of m2, as pbr computes it from git."""

import pbr.version

version_info = pbr.version.VersionInfo('m2')
version_string = version_info.version_string
