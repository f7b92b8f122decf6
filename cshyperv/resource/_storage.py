"""Storage handlers: pools, capacity, the storage subsystem (copy, create, delete, attach, detach).

Disk files are created, cloned and resized by the hypervisor (only it can write VHDX); files that
merely move (templates between secondary and primary storage) are streamed through the storage
adaptors, written under a temporary name and renamed, so no partial file is ever visible under its
final name.
"""

from __future__ import annotations

import posixpath
import uuid as uuidlib
from typing import Any

import attrs

from cshyperv.commands import (
    Answer,
    AttachAnswer,
    AttachCommand,
    CopyCmdAnswer,
    CopyCommand,
    CreateAnswer,
    CreateCommand,
    CreateObjectAnswer,
    CreateObjectCommand,
    DataStoreRole,
    DeleteCommand,
    DestroyCommand,
    DettachAnswer,
    DettachCommand,
    GetStorageStatsAnswer,
    GetStorageStatsCommand,
    GetVolumeStatsAnswer,
    GetVolumeStatsCommand,
    ImageFormat,
    ImageStoreTO,
    MigrateVolumeAnswer,
    MigrateVolumeCommand,
    ModifyStoragePoolAnswer,
    ModifyStoragePoolCommand,
    NfsTO,
    PrimaryDataStoreTO,
    PrimaryStorageDownloadAnswer,
    PrimaryStorageDownloadCommand,
    ResizeVolumeAnswer,
    ResizeVolumeCommand,
    StoragePoolInfo,
    TemplateObjectTO,
    VolumeObjectTO,
    VolumeStatsEntry,
    VolumeTO,
    VolumeType,
)
from cshyperv.errors import MissingMemberError, UnsupportedOperationError
from cshyperv.hypervisor import DiskKind, DiskSpec
from cshyperv.resource._context import ResourceContext
from cshyperv.resource._translate import disk_file, join_path, store_root
from cshyperv.storage import StorageURL

__all__ = ["HANDLERS"]


def _role(store: Any) -> DataStoreRole | None:
    if isinstance(store, PrimaryDataStoreTO):
        return DataStoreRole.Primary
    if isinstance(store, NfsTO):
        return store.role or DataStoreRole.Image
    if isinstance(store, ImageStoreTO):
        return store.role or DataStoreRole.Image
    return None


def _learn_stores(ctx: ResourceContext, *objects: Any) -> None:
    """Store URLs that carry credentials or name an NFS export teach the storage access."""
    for obj in objects:
        store = getattr(obj, "image_data_store", None) or getattr(obj, "data_store", None) or obj
        ctx.ops.learn(getattr(store, "url", None), getattr(store, "uri", None))


def _usage(ctx: ResourceContext, root: str) -> tuple[int, int]:
    usage = ctx.ops.capacity(root)
    return usage.total_bytes, usage.free_bytes


def modify_pool(ctx: ResourceContext, cmd: ModifyStoragePoolCommand) -> Answer:
    if cmd.pool is None:
        raise MissingMemberError("required member is missing").at("pool")
    # An SMB pool's path may end in "?user=..&password=..": learn it, keep it out of every path.
    root, _, query = store_root(cmd.pool).partition("?")
    if query and root.startswith("\\\\"):
        ctx.ops.learn("cifs:" + root.replace("\\", "/") + "?" + query)
    details = cmd.details or {}
    if root.startswith("\\\\") and details.get("user") and details.get("password") is not None:
        # Newer management servers send the SMB pool's credentials as pool details.
        url = attrs.evolve(
            StorageURL.parse(root), user=details["user"], password=details["password"], domain=details.get("domain")
        )
        ctx.ops.learn(url.to_url(with_credentials=True))
    if not cmd.add:
        ctx.pools.pop(cmd.pool.uuid or "", None)
        return Answer(result=True, details="pool removed")
    if cmd.pool.uuid:
        ctx.pools[cmd.pool.uuid] = root
    total, free = _usage(ctx, root)
    info = StoragePoolInfo(
        uuid=cmd.pool.uuid,
        host=cmd.pool.host,
        local_path=root,
        host_path=(cmd.pool.path or "").partition("?")[0] or None,
        pool_type=cmd.pool.type,
        capacity_bytes=total,
        available_bytes=free,
    )
    return ModifyStoragePoolAnswer(result=True, pool_info=info, template_info={})


def storage_stats(ctx: ResourceContext, cmd: GetStorageStatsCommand) -> Answer:
    if cmd.store is not None:
        root = store_root(cmd.store)
    elif cmd.local_path:
        root = cmd.local_path
    else:
        raise MissingMemberError("required member is missing").at("store")
    total, free = _usage(ctx, root)
    return GetStorageStatsAnswer(result=True, capacity_bytes=total, used_bytes=total - free)


def _file_name(obj: Any, fmt: ImageFormat | None, default_ext: str = "vhdx") -> str:
    base = obj.uuid or obj.name or uuidlib.uuid4().hex
    ext = str(fmt.value).lower() if fmt is not None else default_ext
    return f"{base}.{ext}"


def copy(ctx: ResourceContext, cmd: CopyCommand) -> Answer:
    src, dest = cmd.src_to, cmd.dest_to
    _learn_stores(ctx, src, dest)
    src_role = _role(getattr(src, "image_data_store", None) or getattr(src, "data_store", None))
    dest_role = _role(getattr(dest, "image_data_store", None) or getattr(dest, "data_store", None))

    if isinstance(src, TemplateObjectTO) and isinstance(dest, TemplateObjectTO) and dest_role is DataStoreRole.Primary:
        # Template from secondary (or another pool) to primary storage.
        source = disk_file(src)
        name = _file_name(dest, dest.format or src.format, posixpath.splitext(src.path or "")[1].lstrip(".") or "vhdx")
        target = join_path(store_root(dest.image_data_store), name)
        ctx.ops.copy_file(source, target)
        size = ctx.ops.virtual_size(target)
        new = TemplateObjectTO(path=name, size=size, physical_size=size, format=dest.format or src.format)
        return CopyCmdAnswer(result=True, new_data=new)

    if isinstance(src, TemplateObjectTO) and isinstance(dest, VolumeObjectTO) and src_role is DataStoreRole.Primary:
        # Root volume from a template already on primary storage.
        template = disk_file(src)
        name = _file_name(dest, src.format)
        target = join_path(store_root(dest.data_store), name)
        if ctx.settings.differencing_root_disks:
            info = ctx.ops.create_volume(target, dest.size or 0, parent=template)
        else:
            info = ctx.ops.clone_volume(template, target, size_bytes=dest.size)
        volume = VolumeObjectTO(path=name, size=info.size_bytes, format=src.format, volume_type=dest.volume_type)
        return CopyCmdAnswer(result=True, new_data=volume)

    if isinstance(src, VolumeObjectTO) and isinstance(dest, VolumeObjectTO):
        source = disk_file(src)
        name = _file_name(dest, src.format)
        target = join_path(store_root(dest.data_store), name)
        ctx.ops.copy_file(source, target)
        copied_volume = VolumeObjectTO(path=name, size=src.size, format=src.format, volume_type=src.volume_type)
        return CopyCmdAnswer(result=True, new_data=copied_volume)

    if isinstance(src, VolumeObjectTO) and isinstance(dest, TemplateObjectTO):
        source = disk_file(src)
        name = _file_name(dest, src.format)
        folder = dest.path or ""
        target = join_path(store_root(dest.image_data_store), posixpath.join(folder, name) if folder else name)
        copied = ctx.ops.copy_file(source, target)
        properties = join_path(store_root(dest.image_data_store), posixpath.join(folder, "template.properties"))
        _write_template_properties(ctx, properties, dest, name, size=copied, src=src)
        new = TemplateObjectTO(
            path=posixpath.join(folder, name) if folder else name,
            size=src.size,
            physical_size=copied,
            format=src.format,
        )
        return CopyCmdAnswer(result=True, new_data=new)

    kinds = f"{type(src).__name__} -> {type(dest).__name__}"
    return CopyCmdAnswer(result=False, details=f"copying {kinds} is not implemented yet")


def _write_template_properties(
    ctx: ResourceContext, properties: str, dest: TemplateObjectTO, name: str, *, size: int, src: VolumeObjectTO
) -> None:
    # The secondary storage VM lists templates from these files; keys as CloudStack writes them.
    fmt = str(src.format.value).lower() if src.format is not None else "vhdx"
    lines = [
        f"filename={name}",
        f"id={dest.id}",
        "public=true",
        f"{fmt}=true",
        f"{fmt}.filename={name}",
        f"{fmt}.size={size}",
        f"{fmt}.virtualsize={src.size or size}",
        f"virtualsize={src.size or size}",
        f"size={size}",
        f"uniquename={dest.unique_name or dest.name or name}",
        f"description={dest.display_text or ''}",
        "hvm=true",
    ]
    ctx.ops.write_file(properties, ("\n".join(lines) + "\n").encode("utf-8"))


def create_object(ctx: ResourceContext, cmd: CreateObjectCommand) -> Answer:
    data = cmd.data
    if not isinstance(data, VolumeObjectTO):
        return CreateObjectAnswer(result=False, details=f"not supported type: {type(data).__name__}")
    name = _file_name(data, data.format)
    target = join_path(store_root(data.data_store), name)
    info = ctx.ops.create_volume(target, data.size or 0)
    new = attrs.evolve(data, path=name, size=info.size_bytes, format=data.format or ImageFormat.VHDX)
    return CreateObjectAnswer(result=True, data=new)


def delete(ctx: ResourceContext, cmd: DeleteCommand) -> Answer:
    data = cmd.data
    if isinstance(data, VolumeObjectTO):
        ctx.ops.delete_volume(disk_file(data))
        return Answer(result=True)
    if isinstance(data, TemplateObjectTO):
        ctx.ops.delete_file(disk_file(data))
        return Answer(result=True)
    return Answer(result=False, details=f"unsupported type: {type(data).__name__}")


def destroy(ctx: ResourceContext, cmd: DestroyCommand) -> Answer:
    if cmd.volume is None or not cmd.volume.path:
        raise MissingMemberError("required member is missing").at("volume")
    path = cmd.volume.path
    if cmd.volume.mount_point and not (path.startswith("\\\\") or path[1:2] == ":"):
        path = join_path(cmd.volume.mount_point, path)
    ctx.ops.remove_volume(path, detach_from=cmd.vm_name)
    return Answer(result=True)


def _disk_spec(disk: Any) -> DiskSpec:
    kind = DiskKind.ISO if disk.type == VolumeType.ISO else DiskKind.DATA
    if disk.data is None:
        raise MissingMemberError("required member is missing").at("data")
    return DiskSpec(kind=kind, path=disk_file(disk.data), position=int(disk.disk_seq or 0))


def attach(ctx: ResourceContext, cmd: AttachCommand) -> Answer:
    assert cmd.disk is not None  # required by the model
    if not cmd.vm_name:
        raise MissingMemberError("required member is missing").at("vmName")
    ctx.ops.attach_disk(cmd.vm_name, _disk_spec(cmd.disk))
    return AttachAnswer(result=True, disk=cmd.disk)


def dettach(ctx: ResourceContext, cmd: DettachCommand) -> Answer:
    assert cmd.disk is not None  # required by the model
    if not cmd.vm_name:
        raise MissingMemberError("required member is missing").at("vmName")
    ctx.ops.detach_disk(cmd.vm_name, _disk_spec(cmd.disk).path)
    return DettachAnswer(result=True, disk=cmd.disk)


def resize(ctx: ResourceContext, cmd: ResizeVolumeCommand) -> Answer:
    if not cmd.path or cmd.pool is None:
        raise MissingMemberError("required member is missing").at("path" if not cmd.path else "pool")
    if cmd.new_size is None:
        raise MissingMemberError("required member is missing").at("newSize")
    name = cmd.path if "." in cmd.path else f"{cmd.path}.vhdx"
    target = join_path(store_root(cmd.pool), name)
    new = ctx.ops.resize_volume(target, cmd.new_size, allow_shrink=cmd.shrink_ok)
    return ResizeVolumeAnswer(result=True, new_size=new.size_bytes)


def create_legacy(ctx: ResourceContext, cmd: CreateCommand) -> Answer:
    """The pre-storage-subsystem volume create: empty, or a copy of ``templateUrl`` on the pool."""
    if cmd.pool is None or cmd.disk_characteristics is None:
        raise MissingMemberError("required member is missing").at("pool" if cmd.pool is None else "diskCharacteristics")
    root = store_root(cmd.pool)
    disk = cmd.disk_characteristics
    name = f"{uuidlib.uuid4()}.vhdx"
    target = join_path(root, name)
    if cmd.template_url:
        template = cmd.template_url
        if not (template.startswith("\\\\") or template[1:2] == ":"):
            template = join_path(root, template)
        info = ctx.ops.clone_volume(template, target, size_bytes=disk.size or None)
    else:
        info = ctx.ops.create_volume(target, disk.size)
    volume = VolumeTO(
        id=cmd.vol_id,
        name=disk.name,
        mount_point=root,
        path=name,
        size=info.size_bytes,
        type=disk.type,
        storage_pool_type=cmd.pool.type,
        storage_pool_uuid=cmd.pool.uuid,
    )
    return CreateAnswer(result=True, volume=volume)


def primary_download(ctx: ResourceContext, cmd: PrimaryStorageDownloadCommand) -> Answer:
    """Legacy template download onto primary storage, from a ``cifs://`` (or UNC) image store URL."""
    if not cmd.url:
        raise MissingMemberError("required member is missing").at("url")
    pool_root = cmd.local_path or (store_root(cmd.primary_pool) if cmd.primary_pool is not None else None)
    if not pool_root:
        raise MissingMemberError("required member is missing").at("localPath")
    ctx.ops.learn(cmd.url)
    file_name = posixpath.basename(cmd.url.split("?", 1)[0].replace("\\", "/"))
    for suffix in (".bz2", ".gz", ".xz", ".zip"):
        file_name = file_name.removesuffix(suffix)
    name = f"{cmd.name or uuidlib.uuid4().hex}{posixpath.splitext(file_name)[1] or '.vhdx'}"
    target = join_path(pool_root, name)
    if cmd.url.lower().startswith(("http://", "https://")):
        # Straight from the web onto primary storage: verified and decompressed on the way.
        installed = ctx.ops.install_template(cmd.url, target)
        return PrimaryStorageDownloadAnswer(result=True, install_path=name, template_size=installed.size)
    copied = ctx.ops.copy_file(cmd.url, target)
    return PrimaryStorageDownloadAnswer(result=True, install_path=name, template_size=copied)


def migrate_volume(ctx: ResourceContext, cmd: MigrateVolumeCommand) -> Answer:
    """Move a detached volume's file to another pool (copy, then delete the source)."""
    if not cmd.volume_path or cmd.pool is None:
        raise MissingMemberError("required member is missing").at("volumePath" if not cmd.volume_path else "pool")
    if cmd.attached_vm_name:
        raise UnsupportedOperationError("moving the disk of a VM needs live storage migration (MigrateWithStorage)")
    source_root = store_root(cmd.source_pool) if cmd.source_pool is not None else None
    name = cmd.volume_path if "." in cmd.volume_path else f"{cmd.volume_path}.vhdx"
    source = name if source_root is None else join_path(source_root, name)
    target = join_path(store_root(cmd.pool), name)
    ctx.ops.move_file(source, target)
    return MigrateVolumeAnswer(result=True, volume_path=cmd.volume_path)


def volume_stats(ctx: ResourceContext, cmd: GetVolumeStatsCommand) -> Answer:
    """Sizes of volumes on one pool, keyed by the strings CloudStack sent (volume paths)."""
    root = ctx.pools.get(cmd.pool_uuid or "")
    if root is None:
        raise UnsupportedOperationError("unknown storage pool: it was never added to this host")
    stats = {}
    for key in cmd.volume_uuids or ():
        if not key:
            continue
        name = key if "." in key else f"{key}.vhdx"
        info = ctx.ops.volume_info(join_path(root, name))
        if info is not None:
            stats[key] = VolumeStatsEntry(
                volume_uuid=key, physical_size=info.physical_bytes, virtual_size=info.size_bytes
            )
    return GetVolumeStatsAnswer(result=True, pool_uuid=cmd.pool_uuid, pool_type=cmd.pool_type, volume_stats=stats)


HANDLERS = {
    GetVolumeStatsCommand: volume_stats,
    CreateCommand: create_legacy,
    PrimaryStorageDownloadCommand: primary_download,
    MigrateVolumeCommand: migrate_volume,
    ModifyStoragePoolCommand: modify_pool,
    GetStorageStatsCommand: storage_stats,
    CopyCommand: copy,
    CreateObjectCommand: create_object,
    DeleteCommand: delete,
    DestroyCommand: destroy,
    AttachCommand: attach,
    DettachCommand: dettach,
    ResizeVolumeCommand: resize,
}
