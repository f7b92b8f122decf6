"""A static conformance check of the Hyper-V plug-in's PowerShell scripts against Microsoft's docs.

Nothing on the build machines runs PowerShell, so this reads every script with the
tree-sitter-powershell parser and checks it against ``tests/data/powershell-cmdlets.json`` (facts
extracted from Microsoft's reference pages, see ``tests/data/README.md``):

* every command invocation (literal splatting resolved) fits a documented parameter set of its
  cmdlet on each of Windows Server 2016, 2019, 2022 and 2025, with accepted values where the docs
  list them;
* no PowerShell 6/7-only syntax (``??``, ``?.``, ternary, ``&&``/``||``), cmdlet, parameter, type
  accelerator or .NET member missing from .NET Framework;
* no array returned without the unary comma (PowerShell unrolls it: none -> null, one -> the bare
  object);
* no ``-PassThru`` output that is neither captured nor discarded;
* the project's own rules, each naming the review finding it keeps fixed (``PROJECT_RULES``).

:func:`check_script` returns :class:`Finding` values; ``error`` ones fail the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import tree_sitter as ts
import tree_sitter_powershell as tsp

REFERENCE = Path(__file__).parent / "data" / "powershell-cmdlets.json"
SCRIPTS = Path(__file__).parent.parent / "cshyperv" / "hyperv" / "scripts"
PLATFORMS = ("winserver2016-ps", "winserver2019-ps", "winserver2022-ps", "winserver2025-ps")
_PS51 = "windows-powershell-5.1"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    severity: str  # error | warning | note
    message: str
    rule: str = ""

    def __str__(self) -> str:
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.path}:{self.line}: {self.severity}: {self.message}{rule}"


@cache
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


@cache
def _parser() -> ts.Parser:
    return ts.Parser(ts.Language(tsp.language()))


def parse(text: str) -> tuple[ts.Tree, bytes]:
    source = text.encode("utf-8")
    return _parser().parse(source), source


# -- tree helpers -----------------------------------------------------------------------------


def _walk(node: ts.Node) -> Iterator[ts.Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _text(node: ts.Node, source: bytes) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8")


def _line(node: ts.Node) -> int:
    return node.start_point[0] + 1


def _unwrap(node: ts.Node) -> ts.Node:
    """The innermost node of a single-child expression chain (pipeline -> ... -> unary)."""
    while True:
        named = [c for c in node.children if c.type != "command_argument_sep"]
        if len(named) != 1 or node.type in ("command", "array_expression", "hash_literal_expression"):
            return node
        node = named[0]


def _ancestors(node: ts.Node) -> Iterator[ts.Node]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


# -- commands ---------------------------------------------------------------------------------


@dataclass
class Invocation:
    name: str
    line: int
    named: dict[str, ts.Node | None] = field(default_factory=dict)  # parameter -> value node
    positional: list[ts.Node] = field(default_factory=list)
    splats: list[str] = field(default_factory=list)
    downstream: bool = False  # receives pipeline input
    node: ts.Node | None = None


def _invocation(command: ts.Node, source: bytes, switches: Callable[[str, str], bool]) -> Invocation | None:
    name_node = command.child_by_field_name("command_name")
    if name_node is None:
        name_node = next((c for c in command.children if c.type == "command_name"), None)
    if name_node is None:
        return None
    inv = Invocation(name=_text(name_node, source), line=_line(command), node=command)
    chain = command.parent
    if chain is not None and chain.type == "pipeline_chain":
        first = next((c for c in chain.children if c.type != "command_argument_sep"), None)
        inv.downstream = first is not None and first.id != command.id
    elements = next((c for c in command.children if c.type == "command_elements"), None)
    if elements is None:
        return inv
    items = list(elements.children)
    i = 0
    while i < len(items):
        item = items[i]
        if item.type in {"command_argument_sep", "redirection"}:
            i += 1
            continue
        if item.type == "command_parameter":
            param = _text(item, source).lstrip("-").rstrip(":")
            colon = (
                i + 1 < len(items)
                and items[i + 1].type == "command_argument_sep"
                and ":" in _text(items[i + 1], source)
            )
            value: ts.Node | None = None
            if colon or not switches(inv.name, param):
                j = i + 1
                while j < len(items) and items[j].type == "command_argument_sep":
                    j += 1
                if j < len(items) and items[j].type != "command_parameter":
                    value = items[j]
                    i = j
            inv.named[param] = value
            i += 1
            continue
        inner = _unwrap(item)
        if inner.type == "variable" and _text(inner, source).startswith("@"):
            inv.splats.append(_text(inner, source)[1:])
        else:
            inv.positional.append(item)
        i += 1
    return inv


# -- the checker ------------------------------------------------------------------------------


class _Check:
    def __init__(self, path: str, text: str, functions: frozenset[str]) -> None:
        self.path = path
        self.text = text
        self.tree, self.source = parse(text)
        self.ref = reference()
        self.findings: list[Finding] = []
        own = {
            _text(n.child_by_field_name("function_name") or n.children[1], self.source).lower()
            for n in _walk(self.tree.root_node)
            if n.type == "function_statement"
        }
        self.functions = functions | own

    def add(self, node: ts.Node | int, severity: str, message: str, rule: str = "") -> None:
        line = node if isinstance(node, int) else _line(node)
        finding = Finding(self.path, line, severity, message, rule)
        if finding not in self.findings:
            self.findings.append(finding)

    # -- reference lookups

    def cmdlet(self, name: str) -> dict[str, Any] | None:
        cmdlets: dict[str, Any] = self.ref["cmdlets"]
        for key, value in cmdlets.items():
            if key.lower() == name.lower():
                return dict(value)
        return None

    def _param(self, cmdlet: Mapping[str, Any], name: str) -> str | None:
        """The canonical parameter name for ``name`` (name, alias or unambiguous prefix)."""
        params: Mapping[str, Any] = cmdlet["parameters"]
        common = {**self.ref["common_parameters"], **self.ref["risk_mitigation_parameters"]}
        lowered = name.lower()
        for pool in (params, common):
            for key, info in pool.items():
                if key.lower() == lowered or lowered in (a.lower() for a in info.get("aliases") or ()):
                    return str(key)
        prefixed = [k for k in params if k.lower().startswith(lowered)]
        return prefixed[0] if len(prefixed) == 1 else None

    def is_switch(self, command: str, param: str) -> bool:
        cmdlet = self.cmdlet(command)
        if cmdlet is None:
            return False
        canonical = self._param(cmdlet, param)
        if canonical is None:
            return False
        info = cmdlet["parameters"].get(canonical) or {
            **self.ref["common_parameters"],
            **self.ref["risk_mitigation_parameters"],
        }.get(canonical, {})
        return bool(info.get("switch"))

    # -- splatting: literal hashtables assigned to a variable, plus $var.Key = ... additions

    def splat_variants(self, variable: str) -> list[set[str]] | None:
        literals: list[set[str]] = []
        added: set[str] = set()
        for node in _walk(self.tree.root_node):
            if node.type != "assignment_expression":
                continue
            left = _unwrap(node.children[0])
            right = _unwrap(node.children[-1])
            target = _text(left, self.source)
            if left.type == "variable" and target.lower() == "$" + variable.lower():
                if right.type != "hash_literal_expression":
                    return None
                keys = {
                    _text(entry.children[0], self.source).strip("'\"")
                    for body in right.children
                    if body.type == "hash_literal_body"
                    for entry in body.children
                    if entry.type == "hash_entry"
                }
                literals.append(keys)
            elif (
                left.type == "member_access" and _text(left.children[0], self.source).lower() == "$" + variable.lower()
            ):
                added.add(_text(left.children[-1], self.source))
        if not literals:
            return None
        variants = []
        for keys in literals:
            variants.append(set(keys))
            if added:
                variants.append(keys | added)
        return variants

    # -- parameter sets

    def check_invocation(self, inv: Invocation) -> None:
        lowered = inv.name.lower()
        if lowered.startswith("$") or any(
            c.type in ("&", ".", "command_invokation_operator") for c in (inv.node.children if inv.node else ())
        ):
            return  # & $block: a script block, not a cmdlet
        if lowered in self.functions or lowered in ("elseif", "else"):
            # Our own helpers, or tree-sitter reading a continuation-line elseif/else as a command
            # (the language spec allows new lines before both: not a defect).
            return
        if inv.name in self.ref["powershell_7_only_cmdlets"]:
            self.add(inv.line, "error", f"{inv.name}: a PowerShell 7 cmdlet, absent from Windows PowerShell 5.1", "ps7")
            return
        cmdlet = self.cmdlet(inv.name)
        if cmdlet is None:
            known = {c.lower() for c in self.ref["windows_powershell_51_cmdlets"]}
            for names in self.ref["hyperv_cmdlets_by_platform"].values():
                known |= {c.lower() for c in names}
            if lowered not in known:
                self.add(
                    inv.line, "error", f"{inv.name}: no such cmdlet in Windows PowerShell 5.1 or the Hyper-V module"
                )
            else:
                self.add(inv.line, "note", f"{inv.name}: no parameter facts in the reference, not checked further")
            return
        for platform in PLATFORMS:
            if _PS51 not in cmdlet["platforms"] and platform not in cmdlet["platforms"]:
                self.add(inv.line, "error", f"{inv.name}: not documented on {platform}")
        seven = {p.lower() for p in cmdlet.get("powershell_7_only_parameters") or ()}
        named: dict[str, ts.Node | None] = {}
        for given, value in inv.named.items():
            if given.lower() in seven:
                self.add(inv.line, "error", f"{inv.name} -{given}: PowerShell 7 only (not in 5.1)", "ps7")
                return
            canonical = self._param(cmdlet, given)
            if canonical is None:
                self.add(inv.line, "error", f"{inv.name}: -{given}: no such parameter")
                return
            named[canonical] = value
            self._check_value(inv, cmdlet, canonical, value)
        variants: list[set[str]] = [set()]
        for splat in inv.splats:
            found = self.splat_variants(splat)
            if found is None:
                self.add(inv.line, "error", f"{inv.name}: @{splat} is not a literal hashtable: cannot check it")
                return
            variants = [v | f for v in variants for f in found]
        for variant in variants:
            given = dict(named)
            for key in variant:
                canonical = self._param(cmdlet, key)
                if canonical is None:
                    self.add(inv.line, "error", f"{inv.name}: -{key} (splatted): no such parameter")
                    return
                given[canonical] = None
            failures = {platform: self._fit(inv, cmdlet, platform, given) for platform in PLATFORMS}
            failed = {platform: message for platform, message in failures.items() if message}
            if len(failed) == len(PLATFORMS) and len(set(failed.values())) == 1:
                self.add(
                    inv.line, "error", f"{next(iter(failed.values()))} on every Windows Server version", "parameter-set"
                )
            else:
                for platform, message in failed.items():
                    self.add(inv.line, "error", f"{message} on Windows Server {platform[9:-3]}", "parameter-set")

    def _check_value(self, inv: Invocation, cmdlet: Mapping[str, Any], param: str, value: ts.Node | None) -> None:
        info = cmdlet["parameters"].get(param) or self.ref["common_parameters"].get(param) or {}
        accepted = [str(a).lower() for a in info.get("accepted_values") or ()]
        if not accepted or value is None:
            return
        inner = _unwrap(value)
        if inner.type in ("generic_token", "verbatim_string_characters", "expandable_string_literal") or (
            inner.type == "string_literal"
        ):
            literal = _text(inner, self.source).strip("'\"")
            if "$" not in literal and literal.lower() not in accepted:
                self.add(inv.line, "error", f"{inv.name} -{param} {literal}: not one of {info['accepted_values']}")

    def _fit(self, inv: Invocation, cmdlet: Mapping[str, Any], platform: str, given: Mapping[str, Any]) -> str:
        """Why no parameter set of ``cmdlet`` on ``platform`` takes this invocation ('' if one does)."""
        by_platform = cmdlet.get("parameter_sets_by_platform") or {}
        sets: Mapping[str, Any] = by_platform.get(platform) or cmdlet["parameter_sets"]
        common = set(self.ref["common_parameters"]) | set(self.ref["risk_mitigation_parameters"])
        for param in given:
            info = cmdlet["parameters"].get(param)
            if info is not None and _PS51 not in info["platforms"] and platform not in info["platforms"]:
                return f"{inv.name} -{param}: not documented"
        fitting = []
        for set_name, spec in sets.items():
            members: Mapping[str, Any] = spec["parameters"]
            if any(p not in members and p not in common for p in given):
                continue
            if any(p in ("WhatIf", "Confirm") and p not in cmdlet["parameters"] for p in given):
                continue
            positions = sorted(
                (info["position"], name)
                for name, info in members.items()
                if info.get("position") is not None and name not in given
            )
            if len(inv.positional) > len(positions):
                continue
            bound = set(given) | {name for _, name in positions[: len(inv.positional)]}
            missing = [
                name
                for name, info in members.items()
                if info.get("mandatory")
                and name not in bound
                and not (inv.downstream and "True" in str(cmdlet["parameters"].get(name, {}).get("pipeline_input")))
            ]
            if missing:
                continue
            fitting.append(set_name)
        if fitting:
            return ""
        shown = ", ".join("-" + p for p in sorted(given))
        positional = f" and {len(inv.positional)} positional" if inv.positional else ""
        return (
            f"{inv.name}: no parameter set accepts {shown or 'no parameters'}{positional}"
            f" (sets: {', '.join(sorted(sets))})"
        )

    # -- syntax only PowerShell 6/7 knows

    def check_syntax(self) -> None:
        for node in _walk(self.tree.root_node):
            if node.type == "ERROR" or node.is_missing:
                snippet = _text(node, self.source).strip()[:40]
                what = "PowerShell 7 operator" if "?" in snippet else "syntax error"
                self.add(node, "error", f"{what}: {snippet!r}", "ps7" if "?" in snippet else "syntax")
            elif node.type in ("&&", "||"):
                self.add(node, "error", f"pipeline chain operator {node.type}: PowerShell 7 only", "ps7")
            elif node.type == "type_literal":
                name = _text(node, self.source).strip("[]").strip().lower()
                if name in self.ref["type_accelerators_7_only"] and not (name == "ordered" and _is_cast_of_hash(node)):
                    self.add(node, "error", f"[{name}]: a PowerShell 7 type accelerator", "ps7")
            elif node.type == "invokation_expression":
                self._check_member(node)
        # Tokens the grammar may lex into names: '?.' and '??' outside strings and comments.
        for node in _walk(self.tree.root_node):
            if node.child_count == 0 and node.type not in ("comment",) and not _in_string(node):
                token = _text(node, self.source)
                if "??" in token or "?." in token or "?[" in token:
                    self.add(node, "error", f"null-conditional operator in {token!r}: PowerShell 7 only", "ps7")

    def _check_member(self, node: ts.Node) -> None:
        kids = node.children
        if not kids or kids[0].type != "type_literal" or len(kids) < 3 or kids[1].type != "::":
            return
        type_name = _text(kids[0], self.source).strip("[]").strip()
        member = _text(kids[2], self.source)
        table: Mapping[str, Any] = self.ref["dotnet_framework_4x"]
        full = type_name if type_name.lower().startswith("system.") else "System." + type_name
        entry = next((v for k, v in table.items() if k.lower() in (type_name.lower(), full.lower())), None)
        if entry is None:
            return
        if member.lower() in (m.lower() for m in entry.get("not_in_framework") or ()):
            self.add(node, "error", f"[{type_name}]::{member}: not in .NET Framework 4.x (PowerShell 7 only)", "ps7")
        elif member.lower() == "new":
            self.add(node, "note", f"[{type_name}]::new needs PowerShell 5.0 or later (fine in 5.1)")

    # -- output rules

    def check_outputs(self) -> None:
        for statement, owner in _output_statements(self.tree.root_node):
            value = statement.children[-1] if statement.type == "flow_control_statement" else statement
            if statement.type == "flow_control_statement" and _text(statement.children[0], self.source) != "return":
                continue
            if len(statement.children) < 2 and statement.type == "flow_control_statement":
                continue
            inner = _unwrap(value)
            if inner.type == "array_expression":
                where = f"function {owner}" if owner else "the script"
                self.add(
                    statement,
                    "error",
                    f"{where} outputs an array: PowerShell unrolls it into the pipeline, so the caller gets "
                    "$null for none and a bare object for one element, not a list (return ,@(...) instead)",
                    "unrolled-array",
                )
        for node in _walk(self.tree.root_node):
            if node.type != "command":
                continue
            inv = _invocation(node, self.source, self.is_switch)
            if inv is None:
                continue
            given = set(inv.named)
            for splat in inv.splats:
                for variant in self.splat_variants(splat) or ():
                    given |= variant
            if not any(p.lower() == "passthru" for p in given):
                continue
            if not _captured(node, self.source):
                self.add(node, "error", f"{inv.name} -PassThru: its output leaks into the result", "passthru-leak")

    def run(self) -> list[Finding]:
        self.check_syntax()
        for node in _walk(self.tree.root_node):
            if node.type == "command":
                inv = _invocation(node, self.source, self.is_switch)
                if inv is not None:
                    self.check_invocation(inv)
        self.check_outputs()
        for rule in PROJECT_RULES:
            for line, message in rule.check(self):
                self.add(line, "error", message, rule.finding)
        return self.findings


def _is_cast_of_hash(type_literal: ts.Node) -> bool:
    cast = type_literal.parent
    if cast is None or cast.type != "cast_expression":
        return False
    return any(_unwrap(c).type == "hash_literal_expression" for c in cast.children[1:])


def _in_string(node: ts.Node) -> bool:
    return any("string" in a.type or a.type == "comment" for a in [node, *_ancestors(node)])


def _output_statements(root: ts.Node) -> Iterator[tuple[ts.Node, str]]:
    """Statements whose value goes to the output of the script or of a function.

    Walks statement lists through if/else, switch, try/catch and loops, not into script blocks
    passed as arguments (a Where-Object filter) nor assignments.
    """

    def lists(node: ts.Node, owner: str) -> Iterator[tuple[ts.Node, str]]:
        for child in node.children:
            if child.type == "function_statement":
                name = next((c for c in child.children if c.type == "function_name"), None)
                body = next((c for c in child.children if c.type == "script_block"), None)
                if body is not None:
                    yield from lists(body, name.text.decode() if name is not None and name.text else "?")
                continue
            if child.type in ("pipeline", "flow_control_statement"):
                # Only statements output; a pipeline elsewhere is a condition or a loop's source.
                assignment = child.children and child.children[0].type == "assignment_expression"
                if node.type == "statement_list" and not assignment:
                    yield child, owner
                continue
            if child.type in ("script_block_expression", "assignment_expression", "command"):
                continue
            yield from lists(child, owner)

    yield from lists(root, "")


def _captured(command: ts.Node, source: bytes) -> bool:
    """Whether a command's output is assigned, cast to void, or piped on (to Out-Null or onward)."""
    chain = command.parent
    if chain is not None and chain.type == "pipeline_chain":
        commands = [c for c in chain.children if c.type == "command"]
        if commands and commands[-1].id != command.id:
            return True  # piped into another command, whose output is judged on its own
    for ancestor in _ancestors(command):
        if ancestor.type in ("assignment_expression", "argument_list"):
            return True
        if ancestor.type == "cast_expression" and _text(ancestor, source).lower().startswith("[void]"):
            return True
        if ancestor.type in ("statement_list", "script_block"):
            return False
    return False


# -- the project's own rules: one per review finding a parameter-set check cannot see -----------


@dataclass(frozen=True)
class Rule:
    finding: str
    check: Callable[[_Check], list[tuple[int, str]]]


def _invocations(chk: _Check) -> Iterator[Invocation]:
    for node in _walk(chk.tree.root_node):
        if node.type == "command":
            inv = _invocation(node, chk.source, chk.is_switch)
            if inv is not None:
                yield inv


def _has(inv: Invocation, *params: str) -> bool:
    given = {p.lower() for p in inv.named}
    return all(p.lower() in given for p in params)


def _value(chk: _Check, inv: Invocation, param: str) -> str:
    for name, value in inv.named.items():
        if name.lower() == param.lower() and value is not None:
            return _text(value, chk.source)
    return ""


def _source_lines(chk: _Check, pattern: str) -> list[tuple[int, str]]:
    out = []
    for number, line in enumerate(chk.text.splitlines(), start=1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        if re.search(pattern, code, re.IGNORECASE):
            out.append((number, line.strip()))
    return out


def _rule_a3(chk: _Check) -> list[tuple[int, str]]:
    return [
        (n, "System.IO.DriveInfo throws on a UNC path (an SMB default VHD path): use GetDiskFreeSpaceEx")
        for n, _ in _source_lines(chk, r"System\.IO\.DriveInfo|\[IO\.DriveInfo\]")
    ]


def _rule_a7_b3(chk: _Check) -> list[tuple[int, str]]:
    out = []
    for inv in _invocations(chk):
        if inv.name.lower() != "get-vm":
            continue
        if _has(inv, "Name") or inv.positional:
            out.append(
                (inv.line, "A7: Get-VM -Name with a name: an escaped wildcard never matches; enumerate and compare")
            )
        if _value(chk, inv, "ErrorAction").lower() in ("silentlycontinue", "ignore"):
            out.append((inv.line, "B3: Get-VM -ErrorAction SilentlyContinue reads access denied as 'absent'"))
    return out


def _rule_a2(chk: _Check) -> list[tuple[int, str]]:
    return [
        (inv.line, "A2: Split-Path -LiteralPath -Parent: no such parameter set")
        for inv in _invocations(chk)
        if inv.name.lower() == "split-path" and _has(inv, "LiteralPath", "Parent")
    ]


def _invokes_method(chk: _Check, method: str) -> bool:
    return any(
        inv.name.lower() == "invoke-cimmethod" and _value(chk, inv, "MethodName").strip("'\"") == method
        for inv in _invocations(chk)
    )


def _rule_b1(chk: _Check) -> list[tuple[int, str]]:
    if not chk.path.endswith("reboot_vm.ps1"):
        return []
    if not _invokes_method(chk, "InitiateReboot"):
        return [(1, "B1: reboot_vm must ask the guest (Msvm_ShutdownComponent.InitiateReboot), not hard-reset it")]
    return []


def _rule_b2(chk: _Check) -> list[tuple[int, str]]:
    out = [
        (inv.line, "B2: Stop-VM -Force without -TurnOff may turn the VM off at once, ignoring the deadline")
        for inv in _invocations(chk)
        if inv.name.lower() == "stop-vm" and _has(inv, "Force") and not _has(inv, "TurnOff")
    ]
    if chk.path.endswith("stop_vm.ps1") and not _invokes_method(chk, "InitiateShutdown"):
        out.append((1, "B2: stop_vm must shut down through Msvm_ShutdownComponent.InitiateShutdown"))
    return out


def _rule_b4(chk: _Check) -> list[tuple[int, str]]:
    kvp = _source_lines(chk, r"AddKvpItems")
    if not kvp:
        return []
    out = []
    if not _source_lines(chk, r"Wait-CsMethodResult"):
        out.append((kvp[0][0], "B4: the KVP job (return value 4096) is never awaited"))
    if not _source_lines(chk, r"\.Length\s+-le\s+1023\b"):
        out.append((kvp[0][0], "B4: a KVP value holds at most 1023 characters: check the length first"))
    return out


def _rule_b5(chk: _Check) -> list[tuple[int, str]]:
    return [
        (n, "B5: Win32_Processor.LoadPercentage measures the root partition only, not the guests")
        for n, _ in _source_lines(chk, r"LoadPercentage")
    ]


def _rule_b6(chk: _Check) -> list[tuple[int, str]]:
    return [
        (inv.line, "B6: Test-Path answers false on access denied: use Test-CsPath (access errors stay errors)")
        for inv in _invocations(chk)
        if inv.name.lower() == "test-path"
    ]


def _rule_b7(chk: _Check) -> list[tuple[int, str]]:
    return [
        (n, "B7: $env:COMPUTERNAME is a NetBIOS name the proxy may not resolve")
        for n, _ in _source_lines(chk, r"\$env:COMPUTERNAME")
    ]


def _rule_b9(chk: _Check) -> list[tuple[int, str]]:
    return [
        (inv.line, "B9: CheckpointType Production falls back to a standard checkpoint silently")
        for inv in _invocations(chk)
        if inv.name.lower() == "set-vm" and _has(inv, "CheckpointType") and _source_lines(chk, r"'Production'")
    ]


def _rule_a4(chk: _Check) -> list[tuple[int, str]]:
    if chk.path.endswith("migrate_vm.ps1") and not _source_lines(chk, r"\.VirtualMachineMigrationEnabled"):
        return [(1, "A4: migrate_vm must check the host's migration settings before Move-VM")]
    return []


def _rule_a5(chk: _Check) -> list[tuple[int, str]]:
    if chk.path.endswith("destroy_vm.ps1") and not _source_lines(chk, r"Remove-VMSnapshot"):
        return [(1, "A5: destroy_vm must merge the checkpoints before Remove-VM and deleting the disks")]
    return []


def _rule_a6(chk: _Check) -> list[tuple[int, str]]:
    """vm_control's scale must move a dynamic-memory maximum with the startup size."""
    if not chk.path.endswith("vm_control.ps1"):
        return []
    calls = [inv for inv in _invocations(chk) if inv.name.lower() == "set-vmmemory"]
    for inv in calls:
        given = {p.lower() for p in inv.named}
        for splat in inv.splats:
            for variant in chk.splat_variants(splat) or ():
                given |= {k.lower() for k in variant}
        if {"startupbytes", "maximumbytes"} <= given:
            return []
    line = calls[0].line if calls else 1
    return [(line, "A6: Set-VMMemory -StartupBytes alone: above a dynamic-memory maximum Hyper-V refuses it")]


def _rule_a8(chk: _Check) -> list[tuple[int, str]]:
    return [
        (inv.line, "A8: a dynamic-memory minimum must be a multiple of 2 MB (round with ConvertTo-CsMemoryBytes)")
        for inv in _invocations(chk)
        if inv.name.lower() == "set-vmmemory"
        and _has(inv, "MinimumBytes")
        and "ConvertTo-CsMemoryBytes" not in _value(chk, inv, "MinimumBytes")
    ]


def _rule_b8(chk: _Check) -> list[tuple[int, str]]:
    if not chk.path.endswith("destroy_vm.ps1") or _source_lines(chk, r"VirtualMachinePath"):
        return []
    return [
        (n, "B8: the VM's folder may be the host's default VM folder: only remove one create_vm made")
        for n, _ in _source_lines(chk, r"Remove-Item\s.*-Recurse")
    ]


def _rule_b10(chk: _Check) -> list[tuple[int, str]]:
    if chk.path.endswith("volume.ps1") and not _source_lines(chk, r"ResetDiskIdentifier"):
        return [(1, "B10: a cloned VHDX keeps the source's disk identifier (Set-VHD -ResetDiskIdentifier)")]
    return []


PROJECT_RULES: Sequence[Rule] = (
    Rule("A2", _rule_a2),
    Rule("A3", _rule_a3),
    Rule("A4", _rule_a4),
    Rule("A5", _rule_a5),
    Rule("A6", _rule_a6),
    Rule("A7/B3", _rule_a7_b3),
    Rule("A8", _rule_a8),
    Rule("B1", _rule_b1),
    Rule("B2", _rule_b2),
    Rule("B4", _rule_b4),
    Rule("B5", _rule_b5),
    Rule("B6", _rule_b6),
    Rule("B7", _rule_b7),
    Rule("B8", _rule_b8),
    Rule("B9", _rule_b9),
    Rule("B10", _rule_b10),
)


@cache
def shared_functions() -> frozenset[str]:
    """Functions the plug-in places in front of every operation (_common.ps1, _envelope.ps1)."""
    names = set()
    for helper in ("_common.ps1", "_envelope.ps1"):
        tree, source = parse((SCRIPTS / helper).read_text(encoding="utf-8"))
        for node in _walk(tree.root_node):
            if node.type == "function_statement":
                name = next(c for c in node.children if c.type == "function_name")
                names.add(_text(name, source).lower())
    return frozenset(names)


def check_script(path: str, text: str) -> list[Finding]:
    """Every finding for one script text (``path`` names it in the findings)."""
    return _Check(path, text, shared_functions()).run()


def check_all(directory: Path = SCRIPTS) -> list[Finding]:
    findings: list[Finding] = []
    for script in sorted(directory.glob("*.ps1")):
        findings += check_script(f"{script.parent.name}/{script.name}", script.read_text(encoding="utf-8"))
    return findings


if __name__ == "__main__":
    results = check_all()
    for result in results:
        print(result)
    errors = sum(r.severity == "error" for r in results)
    print(f"ps_conformance: {len(list(SCRIPTS.glob('*.ps1')))} scripts: {errors} errors")
    raise SystemExit(1 if errors else 0)
