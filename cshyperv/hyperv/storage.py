"""How the agent reaches a Hyper-V host's storage from Linux (settings -> RemoteStorageAccess).

The host opens its disks by UNC path (``\\\\fs.lab\\primary\\x.vhdx``); the agent copies templates
and volumes to and from the same shares through smbprotocol, as some account:

* ``smb_username`` / ``smb_password`` / ``smb_domain`` settings, or ``CSHYPERV_SMB_USERNAME``,
  ``CSHYPERV_SMB_PASSWORD``, ``CSHYPERV_SMB_DOMAIN`` in the environment;
* otherwise the WinRM account (typically the same domain service account has share rights);
* credentials a store URL carries (StartCommand's secondaryStorages) win for that share.

``smb_port`` changes the SMB port for every server (tests; an SMB proxy). ``smb_admin_share=true``
lets the agent reach drive paths on the host (``C:\\VMs``) through ``\\\\host\\C$`` (needs an
administrator account on the host).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cshyperv.errors import PluginError
from cshyperv.storage import RemoteStorageAccess, SmbCredentials

__all__ = ["storage_access_from_settings"]

_TRUE = ("1", "true", "yes", "on")


def storage_access_from_settings(
    settings: Mapping[str, Any],
    *,
    host: str,
    winrm_username: str | None = None,
    winrm_password: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> RemoteStorageAccess:
    env = os.environ if environ is None else environ
    username = settings.get("smb_username") or env.get("CSHYPERV_SMB_USERNAME") or None
    if username:
        password = settings.get("smb_password") or env.get("CSHYPERV_SMB_PASSWORD") or ""
    else:
        username, password = winrm_username, winrm_password or ""
    domain = settings.get("smb_domain") or env.get("CSHYPERV_SMB_DOMAIN") or None
    credentials = SmbCredentials(str(username), str(password), domain) if username else None
    port_text = str(settings.get("smb_port") or env.get("CSHYPERV_SMB_PORT") or "").strip()
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise PluginError("smb_port must be a TCP port number")
    admin_share = str(settings.get("smb_admin_share") or "").strip().lower() in _TRUE
    return RemoteStorageAccess(
        credentials=credentials,
        smb_port=int(port_text) if port_text else None,
        admin_share_host=host if admin_share else None,
    )
