#!/usr/bin/env python3
"""CloudStack Extensions entry point for Hyper-V via cshyperv.

Copy this file to ``/usr/share/cloudstack-management/extensions/<Name>/<name>.py`` (mode 0755,
owner cloud) on every management server, with cshyperv installed for the python3 that systemd's
PATH finds. CloudStack runs it as ``<file> <action> <payload-file> <wait>``.
"""

import sys

from cshyperv.frontends.extension import main

if __name__ == "__main__":
    sys.exit(main())
