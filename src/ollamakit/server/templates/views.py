"""The views of messages and tools a template sees (Ollama's ``templateMessage`` and its
companions): Go structs and named types whose printing and JSON follow Ollama's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..gofmt import OrderedObject, decoded_json
from .values import _GoStruct, _JSONStringer, go_json


class ArgsMap(dict[str, Any], _JSONStringer):
    """A tool call's ``.Function.Arguments``: a map that prints as its JSON (``{}`` when nil)."""

    __slots__ = ("nil",)
    go_type = "template.templateArgs"

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        super().__init__(items or {})
        self.nil = items is None

    def go_string(self) -> str:
        return "{}" if self.nil else go_json(self)

    def go_json_value(self) -> dict[str, Any] | None:
        return None if self.nil else dict(self)


class PropertyType(list[str], _JSONStringer):
    """A JSON-schema ``type``: one name, or several (``[string null]`` when printed)."""

    __slots__ = ()
    go_type = "api.PropertyType"

    def go_json_value(self) -> str | list[str]:
        return self[0] if len(self) == 1 else list(self)

    def go_string(self) -> str:
        if not self:
            return ""
        if len(self) == 1:
            return str(self[0])
        return "[" + " ".join(self) + "]"


class _OrderedProperties(dict[str, "ToolProperty"]):
    """Nested ``properties`` of a property: JSON keeps their declaration order."""

    __slots__ = ()

    def go_json_value(self) -> OrderedObject:
        return OrderedObject(self)


class ToolProperty(_GoStruct):
    """One JSON-schema property of a tool's parameters (Ollama's ``api.ToolProperty``)."""

    __slots__ = ("AnyOf", "Description", "Enum", "Items", "Properties", "Required", "Type")
    go_type = "api.ToolProperty"
    _go_fields = ("AnyOf", "Type", "Items", "Description", "Enum", "Properties", "Required")
    _json_spec = (
        ("anyOf", "AnyOf", True),
        ("type", "Type", True),
        ("items", "Items", True),
        ("description", "Description", True),
        ("enum", "Enum", True),
        ("properties", "Properties", True),
        ("required", "Required", True),
    )

    def __init__(
        self,
        *,
        AnyOf: list[ToolProperty] | None = None,
        Type: PropertyType | None = None,
        Items: Any = None,
        Description: str = "",
        Enum: list[Any] | None = None,
        Properties: Mapping[str, ToolProperty] | None = None,
        Required: list[str] | None = None,
    ) -> None:
        self.AnyOf = AnyOf or []
        self.Type = Type if Type is not None else PropertyType()
        self.Items = Items
        self.Description = Description
        self.Enum = Enum or []
        self.Properties = None if Properties is None else _OrderedProperties(Properties)
        self.Required = Required or []

    def to_typescript_type(self) -> str:
        """Ollama's ``ToolProperty.ToTypeScriptType``."""
        if self.AnyOf:
            return " | ".join(p.to_typescript_type() for p in self.AnyOf)
        if not self.Type:
            return "any"
        return " | ".join(_TS_TYPES.get(t, "any") for t in self.Type)


_TS_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "array": "any[]",
    "object": "Record<string, any>",
    "null": "null",
}


class PropertiesMap(dict[str, ToolProperty], _JSONStringer):
    """A tool's ``.Function.Parameters.Properties``: prints as JSON (``{}`` when nil)."""

    __slots__ = ("nil",)
    go_type = "template.templateProperties"

    def __init__(self, items: Mapping[str, ToolProperty] | None = None) -> None:
        super().__init__(items or {})
        self.nil = items is None

    def go_string(self) -> str:
        return "{}" if self.nil else go_json(self)

    def go_json_value(self) -> dict[str, ToolProperty] | None:
        return None if self.nil else dict(self)


class TemplateToolParameters(_GoStruct):
    """``.Function.Parameters`` of a tool."""

    __slots__ = ("Defs", "Items", "Properties", "Required", "Type")
    go_type = "template.templateToolFunctionParameters"
    _go_fields = ("Type", "Defs", "Items", "Required", "Properties")
    _json_spec = (
        ("type", "Type", False),
        ("$defs", "Defs", True),
        ("items", "Items", True),
        ("required", "Required", True),
        ("properties", "Properties", False),
    )

    def __init__(
        self,
        *,
        Type: str = "",
        Defs: Any = None,
        Items: Any = None,
        Required: list[str] | None = None,
        Properties: PropertiesMap | None = None,
    ) -> None:
        self.Type = Type
        self.Defs = Defs
        self.Items = Items
        self.Required = Required or []
        self.Properties = Properties if Properties is not None else PropertiesMap()


class TemplateToolFunction(_GoStruct):
    """A tool's ``.Function``; prints as its JSON."""

    __slots__ = ("Description", "Name", "Parameters")
    go_type = "template.templateToolFunction"
    _go_fields = ("Name", "Description", "Parameters")
    _json_spec = (
        ("name", "Name", False),
        ("description", "Description", False),
        ("parameters", "Parameters", False),
    )
    _json_stringer = True

    def __init__(
        self,
        *,
        Name: str = "",
        Description: str = "",
        Parameters: TemplateToolParameters | None = None,
    ) -> None:
        self.Name = Name
        self.Description = Description
        self.Parameters = Parameters if Parameters is not None else TemplateToolParameters()


class TemplateTool(_GoStruct):
    """One entry of ``.Tools``: ``.Type``, ``.Items``, ``.Function``; prints as its JSON."""

    __slots__ = ("Function", "Items", "Type")
    go_type = "template.templateTool"
    _go_fields = ("Type", "Items", "Function")
    _json_spec = (
        ("type", "Type", False),
        ("items", "Items", True),
        ("function", "Function", False),
    )
    _json_stringer = True

    def __init__(
        self,
        *,
        Type: str = "",
        Items: Any = None,
        Function: TemplateToolFunction | None = None,
    ) -> None:
        self.Type = Type
        self.Items = Items
        self.Function = Function if Function is not None else TemplateToolFunction()


class ToolList(list[TemplateTool], _JSONStringer):
    """``.Tools``: a list of :class:`TemplateTool` that prints as JSON (``null`` when nil)."""

    __slots__ = ("nil",)
    go_type = "template.templateTools"

    def __init__(self, items: Iterable[TemplateTool] | None = None) -> None:
        super().__init__(items or ())
        self.nil = items is None

    def go_string(self) -> str:
        return go_json(self)

    def go_json_value(self) -> list[TemplateTool] | None:
        return None if self.nil else list(self)


class TemplateToolCallFunction(_GoStruct):
    """``.Function`` of a tool call: ``.Index``, ``.Name``, ``.Arguments``."""

    __slots__ = ("Arguments", "Index", "Name")
    go_type = "template.templateToolCallFunction"
    _go_fields = ("Index", "Name", "Arguments")

    def __init__(
        self,
        *,
        Index: int = 0,
        Name: str = "",
        Arguments: ArgsMap | None = None,
    ) -> None:
        self.Index = Index
        self.Name = Name
        self.Arguments = Arguments if Arguments is not None else ArgsMap()


class TemplateToolCall(_GoStruct):
    """One entry of a message's ``.ToolCalls``: ``.ID`` and ``.Function``."""

    __slots__ = ("Function", "ID")
    go_type = "template.templateToolCall"
    _go_fields = ("ID", "Function")

    def __init__(
        self,
        *,
        ID: str = "",
        Function: TemplateToolCallFunction | None = None,
    ) -> None:
        self.ID = ID
        self.Function = Function if Function is not None else TemplateToolCallFunction()


class TemplateMessage(_GoStruct):
    """One entry of ``.Messages``."""

    __slots__ = ("Content", "Images", "Role", "Thinking", "ToolCallID", "ToolCalls", "ToolName")
    go_type = "*template.templateMessage"
    _go_fields = ("Role", "Content", "Thinking", "Images", "ToolCalls", "ToolName", "ToolCallID")

    def __init__(
        self,
        *,
        Role: str = "",
        Content: str = "",
        Thinking: str = "",
        Images: list[Any] | None = None,
        ToolCalls: list[TemplateToolCall] | None = None,
        ToolName: str = "",
        ToolCallID: str = "",
    ) -> None:
        self.Role = Role
        self.Content = Content
        self.Thinking = Thinking
        self.Images = Images or []
        self.ToolCalls = ToolCalls or []
        self.ToolName = ToolName
        self.ToolCallID = ToolCallID


def _str(v: Any) -> str:
    return v if isinstance(v, str) else "" if v is None else str(v)


def _str_list(v: Any) -> list[str]:
    if not isinstance(v, (list, tuple)):
        return []
    return [x for x in v if isinstance(x, str)]


def _property(raw: Any) -> ToolProperty:
    if not isinstance(raw, Mapping):
        return ToolProperty()
    kind = raw.get("type")
    if isinstance(kind, str):
        ptype = PropertyType([kind])
    elif isinstance(kind, (list, tuple)):
        ptype = PropertyType(x for x in kind if isinstance(x, str))
    else:
        ptype = PropertyType()
    any_of = raw.get("anyOf")
    nested = raw.get("properties")
    enum = raw.get("enum")
    return ToolProperty(
        AnyOf=[_property(p) for p in any_of] if isinstance(any_of, (list, tuple)) else None,
        Type=ptype,
        Items=decoded_json(raw.get("items")),
        Description=_str(raw.get("description")),
        Enum=decoded_json(list(enum)) if isinstance(enum, (list, tuple)) else None,
        Properties=(
            {str(k): _property(p) for k, p in nested.items()}
            if isinstance(nested, Mapping)
            else None
        ),
        Required=_str_list(raw.get("required")),
    )


def _as_mapping(v: Any) -> Mapping[str, Any]:
    """A wire object as a mapping: dicts as they are, msgspec structs and pydantic models too."""
    if isinstance(v, Mapping):
        return v
    if hasattr(v, "__struct_fields__"):
        import msgspec

        result = msgspec.to_builtins(v)
    elif callable(getattr(v, "model_dump", None)):
        result = v.model_dump(exclude_none=True, by_alias=True)
    else:
        return {}
    return result if isinstance(result, Mapping) else {}


def template_tools(tools: Sequence[Any] | None) -> ToolList:
    """Convert wire-format tools (``{"type", "function": {...}}``) to the ``.Tools`` view."""
    if tools is None:
        return ToolList()
    out = []
    for raw_tool in tools:
        tool = _as_mapping(raw_tool)
        fn = _as_mapping(tool.get("function"))
        params = _as_mapping(fn.get("parameters"))
        props = params.get("properties")
        properties = (
            PropertiesMap({str(k): _property(p) for k, p in props.items()})
            if isinstance(props, Mapping)
            else PropertiesMap()
        )
        out.append(
            TemplateTool(
                Type=_str(tool.get("type")),
                Items=decoded_json(tool.get("items")),
                Function=TemplateToolFunction(
                    Name=_str(fn.get("name")),
                    Description=_str(fn.get("description")),
                    Parameters=TemplateToolParameters(
                        Type=_str(params.get("type")),
                        Defs=decoded_json(params.get("$defs")),
                        Items=decoded_json(params.get("items")),
                        Required=_str_list(params.get("required")),
                        Properties=properties,
                    ),
                ),
            )
        )
    return ToolList(out)


def _tool_call(raw: Any) -> TemplateToolCall:
    call = _as_mapping(raw)
    fn = _as_mapping(call.get("function"))
    args = fn.get("arguments")
    if isinstance(args, str):
        import json

        try:
            args = json.loads(args)
        except ValueError:
            args = None
    index = fn.get("index")
    return TemplateToolCall(
        ID=_str(call.get("id")),
        Function=TemplateToolCallFunction(
            Index=index if isinstance(index, int) and not isinstance(index, bool) else 0,
            Name=_str(fn.get("name")),
            Arguments=ArgsMap(
                {str(k): decoded_json(v) for k, v in args.items()}
                if isinstance(args, Mapping)
                else None
            ),
        ),
    )


def _message(m: Mapping[str, Any]) -> TemplateMessage:
    images = m.get("images")
    calls = m.get("tool_calls")
    return TemplateMessage(
        Role=_str(m.get("role")),
        Content=_str(m.get("content")),
        Thinking=_str(m.get("thinking")),
        Images=list(images) if isinstance(images, (list, tuple)) else None,
        ToolCalls=[_tool_call(c) for c in calls] if isinstance(calls, (list, tuple)) else None,
        ToolName=_str(m.get("tool_name")),
        ToolCallID=_str(m.get("tool_call_id")),
    )


def _collate(messages: Iterable[Any]) -> tuple[str, list[dict[str, Any]]]:
    """Ollama's ``collate``: all system texts, and same-role runs merged (tool turns excepted).

    System messages stay in the list too; templates skip them by role.
    """
    system: list[str] = []
    collated: list[dict[str, Any]] = []
    for raw in messages:
        m = dict(_as_mapping(raw))
        role = _str(m.get("role"))
        content = _str(m.get("content"))
        if role == "system":
            system.append(content)
        if collated and collated[-1]["role"] == role and role != "tool":
            collated[-1]["content"] += "\n\n" + content
        else:
            m["role"] = role
            m["content"] = content
            collated.append(m)
    return "\n\n".join(system), collated


def template_messages(messages: Iterable[Any]) -> list[TemplateMessage]:
    """Collate wire-format messages and convert them to the ``.Messages`` view.

    As in Ollama, a run of messages with the same role becomes one message whose contents
    are joined by a blank line (tool results stay separate, and only the first message of a
    run keeps its other fields), and system messages stay in the list.
    """
    return [_message(m) for m in _collate(messages)[1]]
