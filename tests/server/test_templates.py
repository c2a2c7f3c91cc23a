"""Tests for the Go-template engine and Ollama's template rules (``ollamakit.server.templates``).

The expected strings in the tables are what Go's ``text/template`` produces for the same
template and data, executed with Ollama's ``template.Execute`` rules (``missingkey=zero``,
message collation, the tool and tool-call views).  Several conversations and templates are
Ollama's own (``template/*.gotmpl`` and ``template/testdata``, ``thinking/template_test.go``,
``tools/template_test.go``, ``template/template_test.go``).
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest

from ollamakit.server import templates as tpl
from ollamakit.server.templates import (
    GEMMA3_TEMPLATE,
    Template,
    TemplateError,
    go_json,
    go_sprint,
    infer_thinking_tags,
    render,
    template_messages,
    template_tools,
    tool_call_tag,
)

DATA: dict[str, Any] = {
    "A": "x",
    "B": "",
    "N": 3,
    "Z": 0,
    "F": 2.5,
    "T": True,
    "Fa": False,
    "L": [1, 2, 3],
    "E": [],
    "S": ["a", "b", "c"],
    "M": {"b": 2, "a": 1, "c": "<&>"},
    "EM": {},
    "Nil": None,
    "Nested": {"Inner": {"Deep": "yes"}, "List": [{"K": "v0"}, {"K": "v1"}]},
    "Response": "",
    "Uni": "h\u00e9llo w\u00f6rld",
    "Msgs": [{"Role": "user", "Content": "hi"}, {"Role": "assistant", "Content": "yo"}],
}


def ex(source: str, data: Any = None) -> str:
    """Execute with DATA (which carries ``Response``, as Ollama appends ``{{ .Response }}``)."""
    return Template(source).execute(DATA if data is None else data)


# ---------------------------------------------------------------------------------------------
# The template language
# ---------------------------------------------------------------------------------------------

ENGINE_CASES = [
    pytest.param(
        "plain text",
        "plain text",
        id="text",
    ),
    pytest.param(
        "a  {{- .A -}}  b",
        "axb",
        id="trim_both",
    ),
    pytest.param(
        "a\n\n{{- .A }}\n\n{{ .A -}}\n\n b",
        "ax\n\nxb",
        id="trim_newlines",
    ),
    pytest.param(
        "{{-3}} {{ 3 -}}x",
        "-3 3x",
        id="trim_no_space_is_number",
    ),
    pytest.param(
        "a\t{{-\t.A\t-}}\tb",
        "axb",
        id="trim_tab",
    ),
    pytest.param(
        "a{{/* c */}}b{{- /* c */ -}} c {{/* multi\nline */}}d",
        "abc d",
        id="comment",
    ),
    pytest.param(
        "{{ .A }}",
        "x",
        id="only_action",
    ),
    pytest.param(
        "{{ .A -}}   {{- .A }}",
        "xx",
        id="empty_trim_text",
    ),
    pytest.param(
        "{{ .A }}|{{ .Nested.Inner.Deep }}|{{ .Missing }}|{{ .Nested.Missing }}|{{ .Nil }}",
        "x|yes|<no value>|<no value>|<no value>",
        id="fields",
    ),
    pytest.param(
        "{{ $.A }}|{{ with .Nested }}{{ $.A }}{{ .Inner.Deep }}{{ end }}",
        "x|xyes",
        id="dollar",
    ),
    pytest.param(
        '{{ $x := .A }}{{ $x }}{{ $x = "y" }}{{ $x }}{{ $y := .Nested }}{{ $y.Inner.Deep }}',
        "xyyes",
        id="vars",
    ),
    pytest.param(
        "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
        "21",
        id="var_scope_if",
    ),
    pytest.param(
        "{{ $x := 0 }}{{ range .L }}{{ $x = . }}{{ end }}{{ $x }}",
        "3",
        id="var_assign_in_range",
    ),
    pytest.param(
        "{{ if $v := .A }}{{ $v }}{{ else }}no{{ end }}",
        "x",
        id="if_decl",
    ),
    pytest.param(
        "{{ .N }}|{{ .F }}|{{ .T }}|{{ .L }}|{{ .E }}|{{ .M }}|{{ .EM }}|{{ .S }}|{{ .Nested }}",
        (
            "3|2.5|true|[1 2 3]|[]|map[a:1 b:2 c:<&>]|map[]|[a b c]|map[Inner:map[Deep:"
            "yes] List:[map[K:v0] map[K:v1]]]"
        ),
        id="print_values",
    ),
    pytest.param(
        (
            "{{ 1 }}|{{ 1.5 }}|{{ 1e3 }}|{{ 0x1F }}|{{ 'a' }}|{{ \"s\" }}|{{ `raw\\n` }"
            "}|{{ true }}|{{ -2 }}|{{ 1_000 }}|{{ 0o17 }}|{{ 017 }}|{{ 0b101 }}"
        ),
        "1|1.5|1000|31|97|s|raw\\n|true|-2|1000|15|15|5",
        id="print_literals",
    ),
    pytest.param(
        (
            "{{ 123456.0 }}|{{ 1000000.0 }}|{{ 1e20 }}|{{ 0.0001 }}|{{ 0.00001 }}|{{ 1."
            "5e300 }}|{{ 3.0 }}|{{ 0.1 }}|{{ 100.5 }}"
        ),
        "123456|1e+06|1e+20|0.0001|1e-05|1.5e+300|3|0.1|100.5",
        id="floats",
    ),
    pytest.param(
        '{{ "a\\tb\\n\\"q\\" \\u00e9 \\x41 \\101" }}',
        'a\tb\n"q" \xe9 A A',
        id="string_escapes",
    ),
    pytest.param(
        (
            "{{ range .L }}{{ if eq . 1 }}one{{ else if eq . 2 }}two{{ else }}other{{ e"
            "nd }};{{ end }}"
        ),
        "one;two;other;",
        id="if_chain",
    ),
    pytest.param(
        (
            "{{ if .A }}A{{ end }}{{ if .B }}B{{ end }}{{ if .N }}N{{ end }}{{ if .Z }}"
            "Z{{ end }}{{ if .L }}L{{ end }}{{ if .E }}E{{ end }}{{ if .M }}M{{ end }}{"
            "{ if .EM }}EM{{ end }}{{ if .Nil }}Nil{{ end }}{{ if .Missing }}Mi{{ end }"
            "}{{ if .T }}T{{ end }}{{ if .Fa }}Fa{{ end }}{{ if .F }}F{{ end }}"
        ),
        "ANLMTF",
        id="truthiness",
    ),
    pytest.param(
        (
            "{{ with .Nested.Inner }}{{ .Deep }}{{ end }}|{{ with .B }}x{{ else }}empty"
            "{{ end }}|{{ with $x := .A }}{{ $x }}{{ . }}{{ end }}"
        ),
        "yes|empty|xx",
        id="with",
    ),
    pytest.param(
        "{{ range .S }}[{{ . }}]{{ end }}",
        "[a][b][c]",
        id="range_list",
    ),
    pytest.param(
        "{{ range $i, $v := .S }}{{ $i }}={{ $v }},{{ end }}",
        "0=a,1=b,2=c,",
        id="range_index",
    ),
    pytest.param(
        "{{ range $v := .S }}{{ $v }}{{ end }}",
        "abc",
        id="range_single_var",
    ),
    pytest.param(
        (
            "{{ range .E }}x{{ else }}empty{{ end }}|{{ range .Missing }}x{{ else }}non"
            "e{{ end }}|{{ range .Nil }}x{{ else }}nil{{ end }}"
        ),
        "empty|none|nil",
        id="range_else",
    ),
    pytest.param(
        "{{ range $k, $v := .M }}{{ $k }}:{{ $v }};{{ end }}|{{ range .M }}{{ . }}{{ end }}",
        "a:1;b:2;c:<&>;|12<&>",
        id="range_map",
    ),
    pytest.param(
        (
            "{{ range $i, $v := .L }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $v }}{{ "
            "if eq $v 2 }}{{ break }}{{ end }}{{ end }}"
        ),
        "2",
        id="range_break_continue",
    ),
    pytest.param(
        "{{ range .Nested.List }}{{ .K }}{{ $.A }}{{ end }}",
        "v0xv1x",
        id="range_nested_dollar",
    ),
    pytest.param(
        "{{ range .L }}{{ $d := . }}{{ $d }}{{ end }}",
        "123",
        id="range_var_per_iter",
    ),
    pytest.param(
        "{{ range .Msgs }}{{ .Role }}:{{ .Content }} {{ end }}",
        "user:hi assistant:yo ",
        id="range_dot_field",
    ),
    pytest.param(
        (
            "{{ range $i, $_ := .S }}{{ $last := eq (len (slice $.S $i)) 1 }}{{ . }}{{ "
            "if not $last }},{{ end }}{{ end }}"
        ),
        "a,b,c",
        id="range_last",
    ),
    pytest.param(
        "{{ range .Msgs }}[{{ .Nope }}]{{ end }}",
        "[<no value>][<no value>]",
        id="range_missing_field_on_map_elem",
    ),
    pytest.param(
        (
            '{{ and 1 0 2 }}|{{ and 1 2 }}|{{ or 0 "" 3 }}|{{ or 0 "" }}|{{ and .A .B }'
            "}|{{ or .B .A }}|{{ and .Nil .Missing.X }}|{{ or .A .Missing.X }}"
        ),
        "0|2|3|||x|<no value>|x",
        id="and_or",
    ),
    pytest.param(
        "{{ not .A }}{{ not .B }}{{ not .E }}{{ not .Missing }}",
        "falsetruetruetrue",
        id="not",
    ),
    pytest.param(
        (
            '{{ eq .A "x" }}{{ eq .A "y" "x" }}{{ eq .N 3 }}{{ ne .N 4 }}{{ lt 1 2 }}{{'
            ' le 2 2 }}{{ gt "b" "a" }}{{ ge 1.5 2.5 }}{{ eq .Missing "x" }}{{ eq .Miss'
            "ing .Nil }}{{ eq .T true }}"
        ),
        "truetruetruetruetruetruetruefalsefalsetruetrue",
        id="eq_family",
    ),
    pytest.param(
        "{{ len .S }}|{{ len .M }}|{{ len .A }}|{{ len .Uni }}|{{ len .E }}",
        "3|3|1|13|0",
        id="len",
    ),
    pytest.param(
        (
            '{{ index .S 1 }}|{{ index .M "a" }}|{{ index .M "zz" }}|{{ index .Nested "'
            'Inner" "Deep" }}|{{ index .A 0 }}|{{ index .Nested.List 1 "K" }}'
        ),
        "b|1|<no value>|yes|120|v1",
        id="index",
    ),
    pytest.param(
        (
            "{{ slice .S 1 }}|{{ slice .S }}|{{ slice .S 0 0 }}|{{ slice .S 1 2 }}|{{ s"
            'lice .A 0 1 }}|{{ slice .L 1 2 3 }}|{{ slice "hello" 1 3 }}'
        ),
        "[b c]|[a b c]|[]|[b]|x|[2]|el",
        id="slice",
    ),
    pytest.param(
        (
            '{{ print 1 2 "a" 3 nil }}|{{ print }}|{{ print .A .N }}|{{ println 1 "a" }'
            "}|{{ print .Missing }}|{{ print .L .M }}"
        ),
        "1 2a3 <nil>||x3|1 a\n|<nil>|[1 2 3] map[a:1 b:2 c:<&>]",
        id="print_fns",
    ),
    pytest.param(
        '{{ printf "%s|%d|%v|%q|%5.2f|%-4d|%x|%t|%s|%%" "a" 3 .L "h\\"i" 3.14159 7 255 true 5 }}',
        'a|3|[1 2 3]|"h\\"i"| 3.14|7   |ff|true|%!s(int=5)|%',
        id="printf_basic",
    ),
    pytest.param(
        (
            '{{ printf "%g|%e|%.3g|%08.3f|%+d|% d|%x|%X|%o|%b|%c|%U|%q|%5s|%-5s|%.2s" 1'
            '234567.0 1234567.0 3.14159 -3.14159 5 5 "hi" -255 8 5 65 65 65 "ab" "ab" "'
            'abc" }}'
        ),
        (
            "1.234567e+06|1.234567e+06|3.14|-003.142|+5| 5|6869|-FF|10|101|A|U+0041|'A'"
            "|   ab|ab   |ab"
        ),
        id="printf_more",
    ),
    pytest.param(
        (
            '{{ printf "%d" }}|{{ printf "%d" 1 2 }}|{{ printf "%d" "s" }}|{{ printf "%'
            's" nil }}|{{ printf "%s %v" .Missing .Missing }}'
        ),
        "%!d(MISSING)|1%!(EXTRA int=2)|%!d(string=s)|%!s(<nil>)|%!s(<nil>) <nil>",
        id="printf_errors",
    ),
    pytest.param(
        '{{ printf "%v %+v %s %d %q" .M .Nested .S .L .S }}',
        (
            "map[a:1 b:2 c:<&>] map[Inner:map[Deep:yes] List:[map[K:v0] map[K:v1]]] [a "
            'b c] [1 2 3] ["a" "b" "c"]'
        ),
        id="printf_compound",
    ),
    pytest.param(
        '{{ printf "%T %T %T %T %T %T" 1 1.5 "s" true .L .M }}',
        "int float64 string bool []interface {} map[string]interface {}",
        id="printf_T",
    ),
    pytest.param(
        '{{ printf "%*d|%-*d|%.*f" 5 42 4 7 2 3.14159 }}',
        "   42|7   |3.14",
        id="printf_width_star",
    ),
    pytest.param(
        '{{ printf "%#x %#o %#v %#q %x % x %#X" 255 8 "s" "a" "hi" "hi" "hi" }}',
        '0xff 010 "s" `a` 6869 68 69 0X6869',
        id="printf_sharp",
    ),
    pytest.param(
        (
            '{{ html "<a href=\'x\'>&\\"" }}|{{ js "a\'b\\"c<>&=\\n" }}|{{ urlquery "a '
            'b&c/d~" }}|{{ html 1 2 }}|{{ .A | html }}'
        ),
        (
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;|a\\'b\\\"c\\u003C\\u003E\\u0026\\u003"
            "D\\u000A|a+b%26c%2Fd~|1 2|x"
        ),
        id="html_js_url",
    ),
    pytest.param(
        (
            '{{ .A | printf "%s!" }}|{{ .S | len }}|{{ "x" | printf "%s-%s" "y" }}|{{ .'
            "A | print | len }}"
        ),
        "x!|3|y-x|1",
        id="pipes",
    ),
    pytest.param(
        (
            "{{ (len .S) }}|{{ eq (len .S) 3 }}|{{ (.Nested.Inner).Deep }}|{{ (index .N"
            'ested.List 0).K }}|{{ printf "%d" (len (slice .S 1)) }}'
        ),
        "3|true|yes|v0|2",
        id="parens",
    ),
    pytest.param(
        (
            "{{ json .M }}|{{ json .S }}|{{ json .N }}|{{ json .F }}|{{ json .A }}|{{ j"
            'son .Nil }}|{{ json .Missing }}|{{ json .Nested }}|{{ json "<script>&" }}|'
            "{{ json 1e21 }}|{{ json 1e20 }}|{{ json 0.0000001 }}|{{ json .Uni }}|{{ js"
            'on "\\u2028 \\t \\u0001" }}'
        ),
        (
            '{"a":1,"b":2,"c":"\\u003c\\u0026\\u003e"}|["a","b","c"]|3|2.5|"x"|null|nul'
            'l|{"Inner":{"Deep":"yes"},"List":[{"K":"v0"},{"K":"v1"}]}|"\\u003cscript\\'
            'u003e\\u0026"|1e+21|100000000000000000000|1e-7|"h\xe9llo w\xf6rld"|"\\u202'
            '8 \\t \\u0001"'
        ),
        id="json",
    ),
    pytest.param(
        "{{ .M | json }}",
        '{"a":1,"b":2,"c":"\\u003c\\u0026\\u003e"}',
        id="json_pipe",
    ),
    pytest.param(
        '{{ define "T1" }}<{{ . }}>{{ end }}{{ template "T1" .A }}{{ template "T1" .N }}',
        "<x><3>",
        id="define_template",
    ),
    pytest.param(
        '{{ block "B" .A }}[{{ . }}]{{ end }}',
        "[x]",
        id="block",
    ),
    pytest.param(
        '{{ define "T" }}{{ $ }}{{ end }}{{ template "T" .A }}',
        "x",
        id="template_dollar",
    ),
    pytest.param(
        "{{ if .B }}b{{ else if .Z }}z{{ else if .A }}a{{ end }}",
        "a",
        id="else_with_chain",
    ),
    pytest.param(
        '{{ printf\n"%s-%s"\n.A\n.A }}',
        "x-x",
        id="whitespace_newlines_in_action",
    ),
    pytest.param(
        "{{ $n := .Nested }}{{ $n.Inner.Deep }}|{{ $.Nested.Inner.Deep }}",
        "yes|yes",
        id="chain_on_variable",
    ),
    pytest.param(
        '{{ lt "a" "b" }}{{ lt "B" "a" }}{{ lt "\xe9" "z" }}',
        "truetruefalse",
        id="compare_strings_bytes",
    ),
    pytest.param(
        "{{ 'a' }}|{{ '\\n' }}|{{ '\\u00e9' }}|{{ printf \"%c\" 'x' }}",
        "97|10|233|x",
        id="char_constants",
    ),
    pytest.param(
        "{{ 0x1p-2 }}|{{ 1E3 }}|{{ .5 }}|{{ +7 }}",
        "0.25|1000|0.5|7",
        id="hex_float_and_exp",
    ),
    pytest.param(
        "{{ `a\nb` }}",
        "a\nb",
        id="raw_string_multiline",
    ),
    pytest.param(
        "{{ (index .Nested.List 1).K }}",
        "v1",
        id="chain_on_pipe_result",
    ),
    pytest.param(
        '{{ .S | len | printf "%03d" }}',
        "003",
        id="len_of_list_literal_pipe",
    ),
]

EXEC_ERRORS = [
    pytest.param(
        "{{ range $i, $c := .Uni }}{{ end }}",
        "range can't iterate over h\xe9llo w\xf6rld",
        id="range_int_literal_list",
    ),
    pytest.param(
        "{{ eq 1 1.0 }}", "error calling eq: incompatible types for comparison", id="eq_mixed_error"
    ),
    pytest.param(
        "{{ lt true false }}", "error calling lt: invalid type for comparison", id="lt_bool_error"
    ),
    pytest.param(
        "{{ lt .Missing 1 }}", "error calling lt: invalid type for comparison", id="lt_nil_error"
    ),
    pytest.param(
        "{{ .Missing.Foo }}", "nil pointer evaluating interface {}.Foo", id="nil_field_error"
    ),
    pytest.param("{{ len .Missing }}", "error calling len: len of nil pointer", id="len_nil_error"),
    pytest.param("{{ len 3 }}", "error calling len: len of type int", id="len_int_error"),
    pytest.param(
        "{{ index .S 5 }}", "error calling index: index out of range: 5", id="index_oob_error"
    ),
    pytest.param(
        "{{ index .Missing 1 }}", "error calling index: index of untyped nil", id="index_nil_error"
    ),
    pytest.param(
        "{{ slice .S 2 1 }}",
        "error calling slice: invalid slice index: 2 > 1",
        id="slice_bad_error",
    ),
    pytest.param("{{ .A 1 }}", "A is not a method but has arguments", id="arg_to_field_error"),
    pytest.param(
        '{{ "a" 1 }}', 'can\'t give argument to non-function "a"', id="arg_to_literal_error"
    ),
    pytest.param("{{ nil }}", "nil is not a command", id="nil_command_error"),
    pytest.param("{{ .A.B }}", "can't evaluate field B in type string", id="field_on_string_error"),
    pytest.param("{{ range .A }}{{ end }}", "range can't iterate over x", id="range_string_error"),
    pytest.param("{{ len }}", "wrong number of args for len: want 1 got 0", id="wrong_arg_count"),
    pytest.param(
        "{{ not 1 2 }}", "wrong number of args for not: want 1 got 2", id="wrong_arg_count2"
    ),
    pytest.param("{{ printf 1 }}", "expected string; found 1", id="printf_nonstring_error"),
    pytest.param(
        "{{ .A | .B }}", "B is not a method but has arguments", id="pipe_into_field_error"
    ),
    pytest.param(
        "{{ index .M 1 }}",
        "error calling index: value has type int; should be string",
        id="index_map_wrong_key_error",
    ),
    pytest.param(
        '{{ template "nope" . }}', 'template "nope" not defined', id="undefined_template_error"
    ),
    pytest.param(
        "{{ eq 1 }}", "error calling eq: missing argument for comparison", id="eq_one_arg_error"
    ),
    pytest.param(
        '{{ lt 1 "a" }}', "error calling lt: incompatible types for comparison", id="lt_mixed_error"
    ),
    pytest.param(
        "{{ slice .A 0 1 1 }}",
        "error calling slice: cannot 3-index slice a string",
        id="slice3_string_error",
    ),
    pytest.param(
        "{{ slice .S 0 1 2 3 }}",
        "error calling slice: too many slice indexes: 4",
        id="slice_too_many_error",
    ),
    pytest.param(
        "{{ slice .S 0 9 }}", "error calling slice: index out of range: 9", id="slice_oob_error"
    ),
    pytest.param(
        '{{ index .Nested "Nope" "x" }}',
        "error calling index: index of nil pointer",
        id="index_nested_nil_error",
    ),
    pytest.param(
        "{{ index 3 0 }}",
        "error calling index: can't index item of type int",
        id="index_type_error",
    ),
    pytest.param(
        "{{ slice 3 0 }}",
        "error calling slice: can't slice item of type int",
        id="slice_type_error",
    ),
    pytest.param(
        "{{ range $i, $v := 3 }}{{ end }}",
        "can't use 3 to iterate over more than one variable",
        id="range_two_vars_over_int_error",
    ),
    pytest.param(
        "{{ call .A }}",
        "error calling call: non-function of type string",
        id="call_non_function_error",
    ),
    pytest.param("{{ $x = 1 }}", "undefined variable: $x", id="assign_undefined"),
]

PARSE_ERRORS = [
    pytest.param("{{ .A ", "unclosed action", id="unclosed_action"),
    pytest.param("a{{ end }}", "unexpected {{end}}", id="unexpected_end"),
    pytest.param("{{ else }}", "unexpected {{else}}", id="unexpected_else"),
    pytest.param("{{ if .A }}x", "unexpected EOF", id="unclosed_if"),
    pytest.param("{{ nope 1 }}", 'function "nope" not defined', id="undefined_func"),
    pytest.param("{{ $x }}", 'undefined variable "$x"', id="undefined_var"),
    pytest.param("{{ break }}", "{{break}} outside {{range}}", id="break_outside"),
    pytest.param("{{ .A@ }}", "bad character U+0040 '@'", id="bad_char"),
    pytest.param('{{ "abc }}', "unterminated quoted string", id="unterminated_string"),
    pytest.param("{{ if }}{{ end }}", "missing value for if", id="missing_value"),
    pytest.param("{{ }}", "missing value for command", id="empty_action"),
    pytest.param("{{/* x */ .A }}", "comment ends before closing delimiter", id="bad_comment"),
    pytest.param("{{/* x ", "unclosed comment", id="unclosed_comment"),
    pytest.param("{{ ) }}", "unexpected right paren", id="unexpected_rparen"),
    pytest.param("{{ (.A }}", "unclosed left paren", id="unclosed_paren"),
    pytest.param("{{ .A | 1 }}", "non executable command in pipeline stage 2", id="non_exec_stage"),
    pytest.param("{{ $a, $b := .A }}", "too many declarations in command", id="too_many_decls"),
    pytest.param('{{ "a".B }}', 'unexpected . after term "\\"a\\""', id="dot_after_literal"),
    pytest.param(
        "{{ range .L }}{{ else if .A }}{{ end }}", "unexpected <if> in input", id="else_if_range"
    ),
    pytest.param("{{ $x : 1 }}", "expected :=", id="colon_alone"),
    pytest.param("{{ 3x }}", 'bad number syntax: "3x"', id="bad_number"),
    pytest.param("{{ 'ab' }}", "malformed character constant: 'ab'", id="bad_char_constant"),
    pytest.param("{{ 'a }}", "unterminated character constant", id="unterminated_char"),
    pytest.param("{{ `abc }}", "unterminated raw quoted string", id="unterminated_raw"),
    pytest.param('{{ "\\q" }}', 'invalid syntax: "\\q"', id="bad_escape"),
    pytest.param(
        "{{ range $a, 3 }}{{ end }}", "range can only initialize variables", id="range_bad_decl"
    ),
    pytest.param(
        '{{ define "x" }}a{{ else }}b{{ end }}',
        "unexpected {{else}} in define clause",
        id="else_in_define",
    ),
    pytest.param(
        "{{ define x }}{{ end }}", 'unexpected "x" in define clause', id="define_bad_name"
    ),
    pytest.param("{{ template x }}", 'unexpected "x" in template clause', id="template_bad_name"),
    pytest.param("{{ .A := 1 }}", 'unexpected ":=" in operand', id="unexpected_in_operand"),
    pytest.param("{{ print if }}", "unexpected <if> in operand", id="keyword_as_arg"),
    pytest.param("{{ .A \x01 }}", "unrecognized character in action: U+0001", id="control_char"),
]


@pytest.mark.parametrize(("source", "expected"), ENGINE_CASES)
def test_engine(source: str, expected: str) -> None:
    assert ex(source) == expected


@pytest.mark.parametrize(("source", "message"), EXEC_ERRORS)
def test_execution_errors(source: str, message: str) -> None:
    tmpl = Template(source)  # parses fine
    with pytest.raises(TemplateError) as info:
        tmpl.execute(DATA)
    assert message in str(info.value)
    assert str(info.value).startswith("template: :1:")


@pytest.mark.parametrize(("source", "message"), PARSE_ERRORS)
def test_parse_errors(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template(source)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_error_reports_line_and_action() -> None:
    with pytest.raises(TemplateError, match=r"template: :3:\d+: executing at <\.Nope\.X>"):
        ex("a\nb\n{{ .Nope.X }}")
    with pytest.raises(TemplateError, match="template: :2: unexpected EOF"):
        Template("{{ if .A }}\nnever closed")


def test_trim_markers_need_a_space() -> None:
    # "{{-3}}" is the number -3, not a trim marker; "{{- 3}}" trims.
    assert ex("a {{-3}} b") == "a -3 b"
    assert ex("a {{- 3}} b") == "a3 b"
    assert ex("a {{3 -}} b") == "a 3b"
    assert ex("a\n \t\r\n{{- .A -}}\n\n\tb") == "axb"


def test_comments_with_trim_markers() -> None:
    assert ex("a  {{- /* note */ -}}  b") == "ab"
    assert ex("a {{/* {{ .A }} */}} b") == "a  b"


def test_range_over_integer_and_else_with() -> None:
    # Newer Go template features: range over an int, "else with" chains.
    assert ex("{{ range 3 }}{{ . }}{{ end }}") == "012"
    assert ex("{{ range $i := .N }}[{{ $i }}]{{ end }}") == "[0][1][2]"
    assert ex("{{ range 0 }}x{{ else }}none{{ end }}") == "none"
    assert ex("{{ with .B }}b{{ else with .Z }}z{{ else with .A }}a={{ . }}{{ end }}") == "a=x"
    assert ex("{{ with .B }}b{{ else with .Z }}z{{ else }}none{{ end }}") == "none"


def test_range_assignment_form() -> None:
    source = "{{ $i := 0 }}{{ $v := 0 }}{{ range $i, $v = .S }}{{ end }}{{ $i }}{{ $v }}"
    assert ex(source) == "2c"


def test_break_and_continue_in_nested_ranges() -> None:
    source = (
        "{{ range $i, $row := .Rows }}{{ range $row }}{{ if eq . 0 }}{{ continue }}{{ end }}"
        "{{ if eq . 9 }}{{ break }}{{ end }}{{ . }}{{ end }};{{ end }}"
    )
    data = {"Rows": [[1, 0, 2], [3, 9, 4], [5]], "Response": ""}
    assert ex(source, data) == "12;3;5;"


def test_variables_are_scoped_to_their_block() -> None:
    source = (
        "{{ $x := 1 }}{{ range .L }}{{ $y := . }}{{ $x = $y }}{{ end }}{{ $x }}"
        "{{ with .A }}{{ $x := 9 }}{{ $x }}{{ end }}{{ $x }}"
    )
    assert ex(source) == "393"
    with pytest.raises(TemplateError, match='undefined variable "\\$y"'):
        Template("{{ range .L }}{{ $y := . }}{{ end }}{{ $y }}")


def test_define_template_and_block() -> None:
    source = (
        '{{ define "item" }}<{{ .K }}>{{ end }}'
        '{{ range .Nested.List }}{{ template "item" . }}{{ end }}'
        '{{ block "tail" .A }}[{{ . }}]{{ end }}'
    )
    assert ex(source) == "<v0><v1>[x]"
    with pytest.raises(TemplateError, match="multiple definition"):
        Template('{{ define "a" }}1{{ end }}{{ define "a" }}2{{ end }}')
    with pytest.raises(TemplateError, match="maximum template depth"):
        ex('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}')


def test_and_or_short_circuit() -> None:
    # The second operand would fail if evaluated.
    assert ex("{{ and .B .Nope.X }}") == ""
    assert ex("{{ or .A .Nope.X }}") == "x"
    assert ex("{{ .A | and true }}") == "x"
    assert ex("{{ .B | or 0 }}") == ""


def test_eq_compares_against_every_argument() -> None:
    assert ex('{{ eq .A "p" "q" "x" }}') == "true"
    assert ex('{{ eq .A "p" "q" }}') == "false"
    with pytest.raises(TemplateError, match="incompatible types for comparison"):
        ex("{{ eq .N 3.0 }}")
    with pytest.raises(TemplateError, match="non-comparable type"):
        ex("{{ eq .L .L }}")


def test_printf_verbs() -> None:
    assert ex('{{ printf "%5.1f|%-3s|%03d|%x|%X|%q|%v|%%" 3.14159 "a" 7 "hi" 255 "q" .L }}') == (
        '  3.1|a  |007|6869|FF|"q"|[1 2 3]|%'
    )
    assert ex('{{ printf "%s %d" "a" }}') == "a %!d(MISSING)"
    assert ex('{{ printf "%d" "a" }}') == "%!d(string=a)"
    assert ex('{{ printf "%s" 1 2 }}') == "%!s(int=1)%!(EXTRA int=2)"
    assert ex('{{ printf "%6.2e|%g|%G|%t|%c|%U" 1234.5678 0.000012 1e21 true 9731 65 }}') == (
        "1.23e+03|1.2e-05|1E+21|true|\u2603|U+0041"
    )
    assert ex('{{ printf "%+d|% d|%+.1f|%8.3s|%-8q|" 5 5 2.25 "abcdef" "x" }}') == (
        '+5| 5|+2.2|     abc|"x"     |'
    )


def test_html_js_urlquery() -> None:
    assert ex('{{ html "<a href=\'x\'>&\\"" }}') == "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"
    assert ex('{{ js "it\'s <b> = &" }}') == "it\\'s \\u003Cb\\u003E \\u003D \\u0026"
    assert ex('{{ urlquery "a b&c=d/e~" }}') == "a+b%26c%3Dd%2Fe~"


def test_call_invokes_a_function_value() -> None:
    data = {"F": lambda a, b: a + b, "Response": ""}
    assert ex("{{ call .F 2 3 }}", data) == "5"
    with pytest.raises(TemplateError, match="error calling call: call of nil"):
        ex("{{ call .Nope }}")


def test_date_functions() -> None:
    today = date.today()
    assert ex("{{ currentDate }}") == today.isoformat()
    assert ex("{{ yesterdayDate }}") == (today - timedelta(days=1)).isoformat()
    # Ollama's TestDateFunctions
    tmpl = Template("{{- range .Messages }}{{ .Content }}{{ end }} Today is {{ currentDate }}")
    out = render(tmpl, messages=[{"role": "user", "content": "Hello"}])
    assert out in ("Hello Today is " + d.isoformat() for d in (today, date.today()))


def test_missing_keys_follow_missingkey_zero() -> None:
    assert ex("{{ .Nope }}") == "<no value>"
    assert ex('{{ print .Nope }}|{{ printf "%v" .Nope }}') == "<nil>|<nil>"
    assert ex("{{ if .Nope }}y{{ else }}n{{ end }}") == "n"
    assert ex("{{ json .Nope }}") == "null"
    assert ex('{{ eq .Nope "x" }}') == "false"
    with pytest.raises(TemplateError, match=r"nil pointer evaluating interface \{\}\.X"):
        ex("{{ .Nope.X }}")


def test_struct_fields_are_checked() -> None:
    tmpl = Template("{{ range .Messages }}{{ .Nmae }}{{ end }}")
    with pytest.raises(TemplateError, match="can't evaluate field Nmae"):
        render(tmpl, messages=[{"role": "user", "content": "hi"}])


def test_template_output_is_not_reparsed() -> None:
    out = ex("{{ .A }}", {"A": "{{ .B }}", "B": "no", "Response": ""})
    assert out == "{{ .B }}"


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    source = "{{ if true }}" * 600 + "x" + "{{ end }}" * 600
    try:
        out = ex(source)
    except TemplateError:
        return
    assert out == "x"


# ---------------------------------------------------------------------------------------------
# Values: Go's %v and encoding/json
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (2.5, "2.5"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e20, "1e+20"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-0.0, "-0"),
        (float("inf"), "+Inf"),
        (float("nan"), "NaN"),
        (12, "12"),
        (True, "true"),
        (None, "<nil>"),
        ([1, "a", None], "[1 a <nil>]"),
        ({"b": 1, "a": [2]}, "map[a:[2] b:1]"),
        ({}, "map[]"),
    ],
)
def test_go_sprint(value: Any, expected: str) -> None:
    assert go_sprint(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": [1, 2.5, "<&>"]}, '{"a":[1,2.5,"\\u003c\\u0026\\u003e"],"b":1}'),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (0.0000001, "1e-7"),
        (1234567.0, "1234567"),
        (3.0, "3"),
        ("\u2028\t\n\b\f\x01\x7f\u00e9", '"\\u2028\\t\\n\\b\\f\\u0001\x7f\u00e9"'),
        ("\ud800", '"\\ufffd"'),
        ([], "[]"),
        (None, "null"),
        (b"hi", '"aGk="'),
        (float("nan"), ""),
        ({1: "int keys"}, '{"1":"int keys"}'),
    ],
)
def test_go_json(value: Any, expected: str) -> None:
    assert go_json(value) == expected


# Ollama's templates: template/*.gotmpl in Ollama's repository, models in its library, and
# templates written in the style of library models (tools, thinking).
TEMPLATES: dict[str, str] = {}

TEMPLATES["gemma3-instruct"] = """\
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<start_of_turn>user
{{- if and (eq $i 1) $.System }}
{{ $.System }}
{{ end }}
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}<end_of_turn>
{{ end }}
{{- if $last }}<start_of_turn>model
{{ end }}
{{- end }}
"""

TEMPLATES["llama3-instruct"] = """\
{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}<|start_header_id|>assistant<|end_header_id|>

"""

TEMPLATES["chatml"] = """\
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""

TEMPLATES["mistral-instruct"] = """\
[INST] {{ range $index, $_ := .Messages }}
{{- if eq .Role "system" }}{{ .Content }}

{{ else if eq .Role "user" }}{{ .Content }}[/INST]
{{- else if eq .Role "assistant" }} {{ .Content }}</s>[INST] {{ end }}
{{- end }}"""

TEMPLATES["llama2-chat"] = """\
{{- $system := "" }}[INST] {{ range .Messages }}
{{- if eq .Role "system" }}
{{- if not $system }}{{ $system = .Content }}
{{- else }}{{ $system = printf "%s\\n\\n%s" $system .Content }}
{{- end }}
{{- else if eq .Role "user" }}<<SYS>>
{{- if $system }}
{{ $system }}
{{ $system = "" }}
{{- end }}<</SYS>>

{{ .Content }} [/INST]
{{- else if eq .Role "assistant" }} {{ .Content }}</s><s>[INST] {{ end }}
{{- end }}"""

TEMPLATES["alpaca"] = """\
{{- $system := "" }}
{{- range .Messages }}
{{- if eq .Role "system" }}
{{- if not $system }}{{ $system = .Content }}
{{- else }}{{ $system = printf "%s\\n\\n%s" $system .Content }}
{{- end }}
{{- else if eq .Role "user" }}
{{- if $system }}{{ $system }}

{{ $system = "" }}
{{- end }}### Instruction:
{{ .Content }}

{{ else if eq .Role "assistant" }}### Response:
{{ .Content }}

{{ end }}
{{- end }}### Response:
"""

TEMPLATES["zephyr"] = """\
{{- range .Messages }}<|{{ .Role }}|>
{{ .Content }}</s>
{{ end }}<|assistant|>
"""

# Legacy (prompt/response) templates.
TEMPLATES["phi-3-legacy"] = """\
{{ if .System }}<|system|>
{{ .System }}<|end|>
{{ end }}{{ if .Prompt }}<|user|>
{{ .Prompt }}<|end|>
{{ end }}<|assistant|>
{{ .Response }}<|end|>"""

TEMPLATES["vicuna"] = """\
{{ if .System }}{{ .System }}

{{ end }}{{ if .Prompt }}USER: {{ .Prompt }}
{{ end }}ASSISTANT: {{ .Response }}</s>
"""

TEMPLATES["granite-instruct"] = """\
{{ if .System }}
System:
{{ .System }}

{{ end }}{{ if .Prompt }}Question:
{{ .Prompt }}

{{ end }}Answer:
{{ .Response }}"""

TEMPLATES["prompt-only"] = "{{ .Prompt }}"
TEMPLATES["system-prompt"] = "{{ .System }} {{ .Prompt }}"

# Tool-calling templates.
TEMPLATES["command-r"] = """\
{{- if or .Tools .System }}<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>
{{- if .Tools }}# Safety Preamble
The instructions in this section override those in the task description and style guide sections. Don't answer questions that are harmful or immoral.

# System Preamble
## Basic Rules
You are a powerful conversational AI trained by Cohere to help people. You are augmented by a number of tools, and your job is to use and consume the output of these tools to best help the user. You will see a conversation history between yourself and a user, ending with an utterance from the user. You will then see a specific instruction instructing you what kind of response to generate. When you answer the user's requests, you cite your sources in your answers, according to those instructions.

{{ if .System }}# User Preamble
{{ .System }}
{{- end }}

## Available Tools
Here is a list of tools that you have available to you:
{{- range .Tools }}

```python
def {{ .Function.Name }}(
{{- range $name, $property := .Function.Parameters.Properties }}{{ $name }}: {{ $property.Type }}, {{ end }}) -> List[Dict]:
    '''{{ .Function.Description }}

{{- if .Function.Parameters.Properties }}

    Args:
{{- range $name, $property := .Function.Parameters.Properties }}
        {{ $name }} ({{ $property.Type }}): {{ $property.Description }}
{{- end }}
{{- end }}
    '''
    pass
```
{{- end }}
{{- else if .System }}{{ .System }}
{{- end }}<|END_OF_TURN_TOKEN|>
{{- end }}
{{- range .Messages }}
{{- if eq .Role "system" }}
{{- continue }}
{{- end }}<|START_OF_TURN_TOKEN|>
{{- if eq .Role "user" }}<|USER_TOKEN|>{{ .Content }}
{{- if $.Tools }}<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>Write 'Action:' followed by a json-formatted list of actions that you want to perform in order to produce a good response to the user's last input. You can use any of the supplied tools any number of times, but you should aim to execute the minimum number of necessary actions for the input. You should use the `directly-answer` tool if calling the other tools is unnecessary. The list of actions you want to call should be formatted as a list of json objects, for example:
```json
[
    {
        "tool_name": title of the tool in the specification,
        "parameters": a dict of parameters to input into the tool as they are defined in the specs, or {} if it takes no parameters
    }
]```
{{- end }}
{{- else if eq .Role "assistant" }}<|CHATBOT_TOKEN|>
{{- if .Content }}{{ .Content }}
{{- else if .ToolCalls }}
Action: ```json
[
{{- range .ToolCalls }}
    {
        "tool_name": "{{ .Function.Name }}",
        "parameters": {{ .Function.Arguments }}
    }
{{- end }}
]```
{{- end }}
{{- else if eq .Role "tool" }}<|SYSTEM_TOKEN|><results>
console_output: {{ .Content }}
</results>
{{- end }}<|END_OF_TURN_TOKEN|>
{{- end }}<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>
"""  # noqa: E501

TEMPLATES["deepseek"] = """\
{{- if .System }}{{ .System }}{{ end }}
{{- if .Tools }}
# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range $i, $_ := .Tools }}
{{ .Function }}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags.
{{- end }}
{{- range $i, $_ := .Messages }}
  {{- $last := eq (len (slice $.Messages $i)) 1 }}
  {{- if eq .Role "user" -}}
    <\uff5cUser\uff5c>{{ .Content }}
  {{- else if eq .Role "assistant" -}}
    <\uff5cAssistant\uff5c>
    {{- if .ToolCalls -}}
      {{ "\\n" }}<\uff5ctool\u2581calls\u2581begin\uff5c>{{ "\\n" }}
      {{- range $i, $_ := .ToolCalls -}}
        <\uff5ctool\u2581call\u2581begin\uff5c>function<\uff5ctool\u2581sep\uff5c>{{ .Function.Name }}
```json
{{ .Function.Arguments }}
```<\uff5ctool\u2581call\u2581end\uff5c>{{ "\\n" }}
      {{- end -}}
      <\uff5ctool\u2581calls\u2581end\uff5c><\uff5cend\u2581of\u2581sentence\uff5c>
    {{- end }}
    {{- if and $.IsThinkSet (and $last .Thinking) -}}
      <think>
        {{ .Thinking }}
      </think>
    {{- end }}{{ .Content }}{{- if not $last }}<\uff5cend\u2581of\u2581sentence\uff5c>{{- end }}
  {{- else if eq .Role "tool" -}}
    {{ "\\n" }}<\uff5ctool\u2581output\u2581begin\uff5c>{{ .Content }}<\uff5ctool\u2581output\u2581end\uff5c>{{ "\\n" }}
  {{- end }}
  {{- if and $last (ne .Role "assistant") -}}
    <\uff5cAssistant\uff5c>
    {{- if and $.IsThinkSet (not $.Think) -}}
      <think> </think>
    {{ end }}
  {{- end -}}
{{- end -}}
"""  # noqa: E501

# From Ollama's thinking/template_test.go.
TEMPLATES["qwen3"] = """\

{{- if or .System .Tools .Thinking }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}
{{- if .Thinking }}
/think
{{- else }}
/no_think
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if and $last .Thinking }}
<think>{{ .Thinking }}</think>
{{ end }}
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
"""  # noqa: E501

# Templates in the style of the library's qwen2.5, llama3.1 and mistral models.
TEMPLATES["qwen2.5-style"] = """\
{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""  # noqa: E501

TEMPLATES["llama3.1-style"] = """\
{{- if or .System .Tools }}<|start_header_id|>system<|end_header_id|>
{{- if .System }}

{{ .System }}
{{- end }}
{{- if .Tools }}

Cutting Knowledge Date: December 2023

When you receive a tool call response, use the output to format your answer to the orginal user question.

You are a helpful assistant with tool calling capabilities.
{{- end }}<|eot_id|>
{{- end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|start_header_id|>user<|end_header_id|>
{{- if and $.Tools $last }}

Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.

Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.

{{ range $.Tools }}
{{- . }}
{{ end }}
Question: {{ .Content }}<|eot_id|>
{{- else }}

{{ .Content }}<|eot_id|>
{{- end }}{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- else if eq .Role "assistant" }}<|start_header_id|>assistant<|end_header_id|>
{{- if .ToolCalls }}
{{ range .ToolCalls }}
{"name": "{{ .Function.Name }}", "parameters": {{ .Function.Arguments }}}{{ end }}
{{- else }}

{{ .Content }}
{{- end }}{{ if not $last }}<|eot_id|>{{ end }}
{{- else if eq .Role "tool" }}<|start_header_id|>ipython<|end_header_id|>

{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- end }}
{{- end }}"""  # noqa: E501

TEMPLATES["mistral-tools-style"] = """\
{{- range $i, $_ := .Messages }}
{{- if eq .Role "user" }}
{{- if and $.Tools (le (len (slice $.Messages $i)) 2) }}[AVAILABLE_TOOLS] {{ $.Tools }}[/AVAILABLE_TOOLS]
{{- end }}[INST] {{ if and $.System (eq (len (slice $.Messages $i)) 1) }}{{ $.System }}

{{ end }}{{ .Content }}[/INST]
{{- else if eq .Role "assistant" }}
{{- if .Content }} {{ .Content }}
{{- else if .ToolCalls }}[TOOL_CALLS] [
{{- range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ json .Function.Arguments }}}
{{- end }}]
{{- end }}</s>
{{- else if eq .Role "tool" }}[TOOL_RESULTS] {"content": {{ .Content }}}[/TOOL_RESULTS]
{{- end }}
{{- end }}"""  # noqa: E501

TEMPLATES["typescript-tools"] = """\
{{- range .Messages }}{{ end }}
{{- range .Tools }}
// {{ .Function.Description }}
type {{ .Function.Name }} = (_: {
{{- range $name, $prop := .Function.Parameters.Properties }}
// {{ $prop.Description }}
{{ $name }}: {{ toTypeScriptType $prop }}{{ with $prop.Enum }} /* one of {{ json . }} */{{ end }},
{{- end }}
}) => any;
{{- end }}
{{ json .Tools }}
{{ range .Tools }}{{ range $i, $r := .Function.Parameters.Required }}{{ if $i }},{{ end }}{{ $r }}{{ end }};{{ .Function.Parameters }}|{{ .Function.Parameters.Properties }}{{ end }}"""  # noqa: E501

TEMPLATES["suffix"] = """\
{{- if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>
{{- else }}{{ .Prompt }}
{{- end }}"""

TEMPLATES["think-flags"] = """\
{{- range .Messages }}[{{ .Role }}:{{ .Content }}{{ with .Thinking }} thinking={{ . }}{{ end }}]{{ end -}}
|Think={{ .Think }}|ThinkLevel={{ .ThinkLevel }}|IsThinkSet={{ .IsThinkSet }}|System={{ .System }}|Tools={{ .Tools }}|Response={{ .Response }}|Missing={{ .Suffix }}"""  # noqa: E501

TEMPLATES["message-fields"] = """\
{{- range $i, $m := .Messages }}{{ $i }} {{ .Role }} {{ printf "%q" .Content }} {{ .ToolName }} {{ .ToolCallID }} {{ len .Images }}
{{- range .ToolCalls }} call[{{ .ID }} {{ .Function.Index }} {{ .Function.Name }} {{ .Function.Arguments }} {{ json .Function.Arguments }}{{ range $k, $v := .Function.Arguments }} {{ $k }}={{ $v }}{{ end }}]{{ end }}
{{ end }}"""  # noqa: E501


# The library's gemma3 models (gemma3:270m included).
TEMPLATES["gemma3"] = """\
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if or (eq .Role "user") (eq .Role "system") }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ if $last }}<start_of_turn>model
{{ end }}
{{- else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}{{ if not $last }}<end_of_turn>
{{ end }}
{{- end }}
{{- end }}"""


# ---------------------------------------------------------------------------------------------
# Ollama's templates and execution modes
# ---------------------------------------------------------------------------------------------

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather <now> & later",
            "parameters": {
                "type": "object",
                "required": ["location"],
                "properties": {
                    "location": {"type": "string", "description": "City name, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": ["integer", "null"], "description": "How many days"},
                },
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to look for"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "limit": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                    "opts": {"type": "object"},
                },
            },
        },
    },
]

_U = {"role": "user", "content": "Hello, how are you?"}
_A = {"role": "assistant", "content": "I'm doing great. How can I help you today?"}
_U2 = {"role": "user", "content": "I'd like to show off how chat templating works!"}
_S = {"role": "system", "content": "You are a helpful assistant."}
_CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {
            "id": "call_1",
            "function": {
                "index": 0,
                "name": "get_weather",
                "arguments": {"location": "Paris", "days": 3, "unit": "celsius"},
            },
        },
        {
            "function": {
                "index": 1,
                "name": "search",
                "arguments": {
                    "query": '<b>"quotes" & \u00e9</b>',
                    "tags": ["a", "b"],
                    "limit": 2.5,
                    "nested": {"z": 1, "a": [True, None]},
                },
            }
        },
    ],
}
_TOOL = {
    "role": "tool",
    "content": "sunny, 22C",
    "tool_name": "get_weather",
    "tool_call_id": "call_1",
}
_TOOL2 = {"role": "tool", "content": "no results", "tool_name": "search"}

MESSAGES: dict[str, list[dict[str, Any]]] = {
    "user": [_U],
    "user-assistant-user": [_U, _A, _U2],
    "system-user-assistant-user": [_S, _U, _A, _U2],
    "tools-call": [_S, {"role": "user", "content": "Weather in Paris?"}, _CALL, _TOOL, _TOOL2],
    "tools-done": [
        {"role": "user", "content": "Weather in Paris?"},
        _CALL,
        _TOOL,
        {"role": "assistant", "content": "Sunny."},
        {"role": "user", "content": "Thanks!"},
    ],
    "merge": [
        {"role": "system", "content": "s1"},
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "system", "content": "s2"},
        {"role": "assistant", "content": "c"},
        {"role": "assistant", "content": "d"},
        _TOOL,
        _TOOL2,
        {"role": "user", "content": "e"},
    ],
    "thinking": [
        _U,
        {"role": "assistant", "content": "Hi!", "thinking": "They greet me."},
        _U2,
        {"role": "assistant", "content": "", "thinking": "Let me think <carefully>."},
    ],
    "assistant-last": [_U, _A],
    "special": [
        {
            "role": "user",
            "content": '<b>bold</b> & "quoted"\n\tnext\u2028line {{ .Not }}',
        }
    ],
    "empty": [],
    "images": [{"role": "user", "content": "look [img]", "images": ["aGVsbG8="]}],
}


RENDER_CASES = [
    pytest.param(
        "gemma3",
        "user",
        False,
        None,
        "<start_of_turn>user\nHello, how are you?<end_of_turn>\n<start_of_turn>model\n",
        id="gemma3/user/notools/None",
    ),
    pytest.param(
        "gemma3",
        "user-assistant-user",
        False,
        None,
        (
            "<start_of_turn>user\n"
            "Hello, how are you?<end_of_turn>\n"
            "<start_of_turn>model\n"
            "I'm doing great. How can I help you today?<end_of_turn>\n"
            "<start_of_turn>user\n"
            "I'd like to show off how chat templating works!<end_of_turn>\n"
            "<start_of_turn>model\n"
        ),
        id="gemma3/user-assistant-user/notools/None",
    ),
    pytest.param(
        "gemma3",
        "system-user-assistant-user",
        False,
        None,
        (
            "<start_of_turn>user\n"
            "You are a helpful assistant.<end_of_turn>\n"
            "<start_of_turn>user\n"
            "Hello, how are you?<end_of_turn>\n"
            "<start_of_turn>model\n"
            "I'm doing great. How can I help you today?<end_of_turn>\n"
            "<start_of_turn>user\n"
            "I'd like to show off how chat templating works!<end_of_turn>\n"
            "<start_of_turn>model\n"
        ),
        id="gemma3/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "gemma3-instruct",
        "user",
        False,
        None,
        "<start_of_turn>user\nHello, how are you?<end_of_turn>\n<start_of_turn>model\n\n",
        id="gemma3-instruct/user/notools/None",
    ),
    pytest.param(
        "gemma3-instruct",
        "user-assistant-user",
        False,
        None,
        (
            "<start_of_turn>user\n"
            "Hello, how are you?<end_of_turn>\n"
            "<start_of_turn>model\n"
            "I'm doing great. How can I help you today?<end_of_turn>\n"
            "<start_of_turn>user\n"
            "I'd like to show off how chat templating works!<end_of_turn>\n"
            "<start_of_turn>model\n"
            "\n"
        ),
        id="gemma3-instruct/user-assistant-user/notools/None",
    ),
    pytest.param(
        "gemma3-instruct",
        "system-user-assistant-user",
        False,
        None,
        (
            "<start_of_turn>user\n"
            "You are a helpful assistant.\n"
            "\n"
            "Hello, how are you?<end_of_turn>\n"
            "<start_of_turn>model\n"
            "I'm doing great. How can I help you today?<end_of_turn>\n"
            "<start_of_turn>user\n"
            "I'd like to show off how chat templating works!<end_of_turn>\n"
            "<start_of_turn>model\n"
            "\n"
        ),
        id="gemma3-instruct/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "llama3-instruct",
        "user",
        False,
        None,
        (
            "<|start_header_id|>user<|end_header_id|>\n"
            "\n"
            "Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
            "\n"
            "\n"
        ),
        id="llama3-instruct/user/notools/None",
    ),
    pytest.param(
        "llama3-instruct",
        "user-assistant-user",
        False,
        None,
        (
            "<|start_header_id|>user<|end_header_id|>\n"
            "\n"
            "Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
            "\n"
            "\n"
            "I'm doing great. How can I help you today?<|eot_id|><|start_header_id|>use"
            "r<|end_header_id|>\n"
            "\n"
            "I'd like to show off how chat templating works!<|eot_id|><|start_header_id"
            "|>assistant<|end_header_id|>\n"
            "\n"
        ),
        id="llama3-instruct/user-assistant-user/notools/None",
    ),
    pytest.param(
        "llama3-instruct",
        "system-user-assistant-user",
        False,
        None,
        (
            "<|start_header_id|>system<|end_header_id|>\n"
            "\n"
            "You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_"
            "id|>\n"
            "\n"
            "Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
            "\n"
            "\n"
            "I'm doing great. How can I help you today?<|eot_id|><|start_header_id|>use"
            "r<|end_header_id|>\n"
            "\n"
            "I'd like to show off how chat templating works!<|eot_id|><|start_header_id"
            "|>assistant<|end_header_id|>\n"
            "\n"
        ),
        id="llama3-instruct/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "chatml",
        "user",
        False,
        None,
        "<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\n",
        id="chatml/user/notools/None",
    ),
    pytest.param(
        "chatml",
        "user-assistant-user",
        False,
        None,
        (
            "<|im_start|>user\n"
            "Hello, how are you?<|im_end|>\n"
            "<|im_start|>assistant\n"
            "I'm doing great. How can I help you today?<|im_end|>\n"
            "<|im_start|>user\n"
            "I'd like to show off how chat templating works!<|im_end|>\n"
            "<|im_start|>assistant\n"
        ),
        id="chatml/user-assistant-user/notools/None",
    ),
    pytest.param(
        "chatml",
        "system-user-assistant-user",
        False,
        None,
        (
            "<|im_start|>system\n"
            "You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\n"
            "Hello, how are you?<|im_end|>\n"
            "<|im_start|>assistant\n"
            "I'm doing great. How can I help you today?<|im_end|>\n"
            "<|im_start|>user\n"
            "I'd like to show off how chat templating works!<|im_end|>\n"
            "<|im_start|>assistant\n"
        ),
        id="chatml/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "mistral-instruct",
        "user",
        False,
        None,
        "[INST] Hello, how are you?[/INST]",
        id="mistral-instruct/user/notools/None",
    ),
    pytest.param(
        "mistral-instruct",
        "user-assistant-user",
        False,
        None,
        (
            "[INST] Hello, how are you?[/INST] I'm doing great. How can I help you toda"
            "y?</s>[INST] I'd like to show off how chat templating works![/INST]"
        ),
        id="mistral-instruct/user-assistant-user/notools/None",
    ),
    pytest.param(
        "mistral-instruct",
        "system-user-assistant-user",
        False,
        None,
        (
            "[INST] You are a helpful assistant.\n"
            "\n"
            "Hello, how are you?[/INST] I'm doing great. How can I help you today?</s>["
            "INST] I'd like to show off how chat templating works![/INST]"
        ),
        id="mistral-instruct/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "llama2-chat",
        "user",
        False,
        None,
        "[INST] <<SYS>><</SYS>>\n\nHello, how are you? [/INST]",
        id="llama2-chat/user/notools/None",
    ),
    pytest.param(
        "llama2-chat",
        "user-assistant-user",
        False,
        None,
        (
            "[INST] <<SYS>><</SYS>>\n"
            "\n"
            "Hello, how are you? [/INST] I'm doing great. How can I help you today?</s>"
            "<s>[INST] <<SYS>><</SYS>>\n"
            "\n"
            "I'd like to show off how chat templating works! [/INST]"
        ),
        id="llama2-chat/user-assistant-user/notools/None",
    ),
    pytest.param(
        "llama2-chat",
        "system-user-assistant-user",
        False,
        None,
        (
            "[INST] <<SYS>>\n"
            "You are a helpful assistant.\n"
            "<</SYS>>\n"
            "\n"
            "Hello, how are you? [/INST] I'm doing great. How can I help you today?</s>"
            "<s>[INST] <<SYS>><</SYS>>\n"
            "\n"
            "I'd like to show off how chat templating works! [/INST]"
        ),
        id="llama2-chat/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "alpaca",
        "user",
        False,
        None,
        "### Instruction:\nHello, how are you?\n\n### Response:\n",
        id="alpaca/user/notools/None",
    ),
    pytest.param(
        "alpaca",
        "user-assistant-user",
        False,
        None,
        (
            "### Instruction:\n"
            "Hello, how are you?\n"
            "\n"
            "### Response:\n"
            "I'm doing great. How can I help you today?\n"
            "\n"
            "### Instruction:\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "### Response:\n"
        ),
        id="alpaca/user-assistant-user/notools/None",
    ),
    pytest.param(
        "alpaca",
        "system-user-assistant-user",
        False,
        None,
        (
            "You are a helpful assistant.\n"
            "\n"
            "### Instruction:\n"
            "Hello, how are you?\n"
            "\n"
            "### Response:\n"
            "I'm doing great. How can I help you today?\n"
            "\n"
            "### Instruction:\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "### Response:\n"
        ),
        id="alpaca/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "zephyr",
        "user",
        False,
        None,
        "<|user|>\nHello, how are you?</s>\n<|assistant|>\n",
        id="zephyr/user/notools/None",
    ),
    pytest.param(
        "zephyr",
        "user-assistant-user",
        False,
        None,
        (
            "<|user|>\n"
            "Hello, how are you?</s>\n"
            "<|assistant|>\n"
            "I'm doing great. How can I help you today?</s>\n"
            "<|user|>\n"
            "I'd like to show off how chat templating works!</s>\n"
            "<|assistant|>\n"
        ),
        id="zephyr/user-assistant-user/notools/None",
    ),
    pytest.param(
        "zephyr",
        "system-user-assistant-user",
        False,
        None,
        (
            "<|system|>\n"
            "You are a helpful assistant.</s>\n"
            "<|user|>\n"
            "Hello, how are you?</s>\n"
            "<|assistant|>\n"
            "I'm doing great. How can I help you today?</s>\n"
            "<|user|>\n"
            "I'd like to show off how chat templating works!</s>\n"
            "<|assistant|>\n"
        ),
        id="zephyr/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "phi-3-legacy",
        "user",
        False,
        None,
        "<|user|>\nHello, how are you?<|end|>\n<|assistant|>\n",
        id="phi-3-legacy/user/notools/None",
    ),
    pytest.param(
        "phi-3-legacy",
        "user-assistant-user",
        False,
        None,
        (
            "<|user|>\n"
            "Hello, how are you?<|end|>\n"
            "<|assistant|>\n"
            "I'm doing great. How can I help you today?<|end|><|user|>\n"
            "I'd like to show off how chat templating works!<|end|>\n"
            "<|assistant|>\n"
        ),
        id="phi-3-legacy/user-assistant-user/notools/None",
    ),
    pytest.param(
        "phi-3-legacy",
        "system-user-assistant-user",
        False,
        None,
        (
            "<|system|>\n"
            "You are a helpful assistant.<|end|>\n"
            "<|user|>\n"
            "Hello, how are you?<|end|>\n"
            "<|assistant|>\n"
            "I'm doing great. How can I help you today?<|end|><|user|>\n"
            "I'd like to show off how chat templating works!<|end|>\n"
            "<|assistant|>\n"
        ),
        id="phi-3-legacy/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "vicuna",
        "user",
        False,
        None,
        "USER: Hello, how are you?\nASSISTANT: ",
        id="vicuna/user/notools/None",
    ),
    pytest.param(
        "vicuna",
        "user-assistant-user",
        False,
        None,
        (
            "USER: Hello, how are you?\n"
            "ASSISTANT: I'm doing great. How can I help you today?</s>\n"
            "USER: I'd like to show off how chat templating works!\n"
            "ASSISTANT: "
        ),
        id="vicuna/user-assistant-user/notools/None",
    ),
    pytest.param(
        "vicuna",
        "system-user-assistant-user",
        False,
        None,
        (
            "You are a helpful assistant.\n"
            "\n"
            "USER: Hello, how are you?\n"
            "ASSISTANT: I'm doing great. How can I help you today?</s>\n"
            "USER: I'd like to show off how chat templating works!\n"
            "ASSISTANT: "
        ),
        id="vicuna/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "granite-instruct",
        "user",
        False,
        None,
        "Question:\nHello, how are you?\n\nAnswer:\n",
        id="granite-instruct/user/notools/None",
    ),
    pytest.param(
        "granite-instruct",
        "user-assistant-user",
        False,
        None,
        (
            "Question:\n"
            "Hello, how are you?\n"
            "\n"
            "Answer:\n"
            "I'm doing great. How can I help you today?Question:\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "Answer:\n"
        ),
        id="granite-instruct/user-assistant-user/notools/None",
    ),
    pytest.param(
        "granite-instruct",
        "system-user-assistant-user",
        False,
        None,
        (
            "\n"
            "System:\n"
            "You are a helpful assistant.\n"
            "\n"
            "Question:\n"
            "Hello, how are you?\n"
            "\n"
            "Answer:\n"
            "I'm doing great. How can I help you today?Question:\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "Answer:\n"
        ),
        id="granite-instruct/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "prompt-only",
        "user",
        False,
        None,
        "Hello, how are you?",
        id="prompt-only/user/notools/None",
    ),
    pytest.param(
        "prompt-only",
        "user-assistant-user",
        False,
        None,
        (
            "Hello, how are you?I'm doing great. How can I help you today?I'd like to s"
            "how off how chat templating works!"
        ),
        id="prompt-only/user-assistant-user/notools/None",
    ),
    pytest.param(
        "prompt-only",
        "system-user-assistant-user",
        False,
        None,
        (
            "Hello, how are you?I'm doing great. How can I help you today?I'd like to s"
            "how off how chat templating works!"
        ),
        id="prompt-only/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "system-prompt",
        "user",
        False,
        None,
        " Hello, how are you?",
        id="system-prompt/user/notools/None",
    ),
    pytest.param(
        "system-prompt",
        "user-assistant-user",
        False,
        None,
        (
            " Hello, how are you?I'm doing great. How can I help you today? I'd like to"
            " show off how chat templating works!"
        ),
        id="system-prompt/user-assistant-user/notools/None",
    ),
    pytest.param(
        "system-prompt",
        "system-user-assistant-user",
        False,
        None,
        (
            "You are a helpful assistant. Hello, how are you?I'm doing great. How can I"
            " help you today? I'd like to show off how chat templating works!"
        ),
        id="system-prompt/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "gemma3",
        "assistant-last",
        False,
        None,
        (
            "<start_of_turn>user\n"
            "Hello, how are you?<end_of_turn>\n"
            "<start_of_turn>model\n"
            "I'm doing great. How can I help you today?"
        ),
        id="gemma3/assistant-last/notools/None",
    ),
    pytest.param(
        "gemma3",
        "merge",
        False,
        None,
        (
            "<start_of_turn>user\n"
            "s1<end_of_turn>\n"
            "<start_of_turn>user\n"
            "a\n"
            "\n"
            "b<end_of_turn>\n"
            "<start_of_turn>user\n"
            "s2<end_of_turn>\n"
            "<start_of_turn>model\n"
            "c\n"
            "\n"
            "d<end_of_turn>\n"
            "<start_of_turn>user\n"
            "e<end_of_turn>\n"
            "<start_of_turn>model\n"
        ),
        id="gemma3/merge/notools/None",
    ),
    pytest.param(
        "gemma3",
        "empty",
        False,
        None,
        "",
        id="gemma3/empty/notools/None",
    ),
    pytest.param(
        "gemma3",
        "special",
        False,
        None,
        (
            "<start_of_turn>user\n"
            '<b>bold</b> & "quoted"\n'
            "\tnext\u2028"
            "line {{ .Not }}<end_of_turn>\n"
            "<start_of_turn>model\n"
        ),
        id="gemma3/special/notools/None",
    ),
    pytest.param(
        "chatml",
        "merge",
        False,
        None,
        (
            "<|im_start|>system\n"
            "s1<|im_end|>\n"
            "<|im_start|>user\n"
            "a\n"
            "\n"
            "b<|im_end|>\n"
            "<|im_start|>system\n"
            "s2<|im_end|>\n"
            "<|im_start|>assistant\n"
            "c\n"
            "\n"
            "d<|im_end|>\n"
            "<|im_start|>tool\n"
            "sunny, 22C<|im_end|>\n"
            "<|im_start|>tool\n"
            "no results<|im_end|>\n"
            "<|im_start|>user\n"
            "e<|im_end|>\n"
            "<|im_start|>assistant\n"
        ),
        id="chatml/merge/notools/None",
    ),
    pytest.param(
        "chatml",
        "images",
        False,
        None,
        "<|im_start|>user\nlook [img]<|im_end|>\n<|im_start|>assistant\n",
        id="chatml/images/notools/None",
    ),
    pytest.param(
        "chatml",
        "empty",
        False,
        None,
        "<|im_start|>assistant\n",
        id="chatml/empty/notools/None",
    ),
    pytest.param(
        "phi-3-legacy",
        "merge",
        False,
        None,
        (
            "<|system|>\n"
            "s1<|end|>\n"
            "<|user|>\n"
            "a\n"
            "\n"
            "b<|end|>\n"
            "<|assistant|>\n"
            "<|end|><|system|>\n"
            "s2<|end|>\n"
            "<|assistant|>\n"
            "c\n"
            "\n"
            "d<|end|><|user|>\n"
            "e<|end|>\n"
            "<|assistant|>\n"
        ),
        id="phi-3-legacy/merge/notools/None",
    ),
    pytest.param(
        "phi-3-legacy",
        "assistant-last",
        False,
        None,
        (
            "<|user|>\n"
            "Hello, how are you?<|end|>\n"
            "<|assistant|>\n"
            "I'm doing great. How can I help you today?"
        ),
        id="phi-3-legacy/assistant-last/notools/None",
    ),
    pytest.param(
        "phi-3-legacy",
        "tools-call",
        False,
        None,
        (
            "<|system|>\n"
            "You are a helpful assistant.<|end|>\n"
            "<|user|>\n"
            "Weather in Paris?<|end|>\n"
            "<|assistant|>\n"
        ),
        id="phi-3-legacy/tools-call/notools/None",
    ),
    pytest.param(
        "llama3-instruct",
        "special",
        False,
        None,
        (
            "<|start_header_id|>user<|end_header_id|>\n"
            "\n"
            '<b>bold</b> & "quoted"\n'
            "\tnext\u2028"
            "line {{ .Not }}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
            "\n"
        ),
        id="llama3-instruct/special/notools/None",
    ),
    pytest.param(
        "vicuna",
        "assistant-last",
        False,
        None,
        "USER: Hello, how are you?\nASSISTANT: I'm doing great. How can I help you today?",
        id="vicuna/assistant-last/notools/None",
    ),
    pytest.param(
        "qwen3",
        "tools-call",
        True,
        True,
        (
            "<|im_start|>system\n"
            "You are a helpful assistant.\n"
            "\n"
            "# Tools\n"
            "\n"
            "You may call one or more functions to assist with the user query.\n"
            "\n"
            "You are provided with function signatures within <tools></tools> XML tags:"
            "\n"
            "<tools>\n"
            '{"type": "function", "function": {"name":"get_weather","description":"Get '
            'the weather \\u003cnow\\u003e \\u0026 later","parameters":{"type":"object"'
            ',"required":["location"],"properties":{"days":{"type":["integer","null"],"'
            'description":"How many days"},"location":{"type":"string","description":"C'
            'ity name, e.g. Paris"},"unit":{"type":"string","enum":["celsius","fahrenhe'
            'it"]}}}}}\n'
            '{"type": "function", "function": {"name":"search","description":"","parame'
            'ters":{"type":"object","properties":{"limit":{"anyOf":[{"type":"number"},{'
            '"type":"null"}]},"opts":{"type":"object"},"query":{"type":"string","descri'
            'ption":"What to look for"},"tags":{"type":"array","items":{"type":"string"'
            "}}}}}}\n"
            "</tools>\n"
            "\n"
            "For each function call, return a json object with function name and argume"
            "nts within <tool_call></tool_call> XML tags:\n"
            "<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n'
            "</tool_call>\n"
            "/no_think<|im_end|>\n"
            "<|im_start|>user\n"
            "Weather in Paris?<|im_end|>\n"
            "<|im_start|>assistant\n"
            "\n"
            "<tool_call>\n"
            '{"name": "get_weather", "arguments": {"days":3,"location":"Paris","unit":"'
            'celsius"}}\n'
            '{"name": "search", "arguments": {"limit":2.5,"nested":{"a":[true,null],"z"'
            ':1},"query":"\\u003cb\\u003e\\"quotes\\" \\u0026 \xe9\\u003c/b\\u003e","ta'
            'gs":["a","b"]}}\n'
            "</tool_call><|im_end|>\n"
            "<|im_start|>user\n"
            "<tool_response>\n"
            "sunny, 22C\n"
            "</tool_response><|im_end|>\n"
            "<|im_start|>user\n"
            "<tool_response>\n"
            "no results\n"
            "</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n"
            "\n"
        ),
        id="qwen3/tools-call/tools/True",
    ),
    pytest.param(
        "qwen3",
        "thinking",
        False,
        True,
        (
            "<|im_start|>user\n"
            "Hello, how are you?<|im_end|>\n"
            "<|im_start|>assistant\n"
            "\n"
            "Hi!<|im_end|>\n"
            "<|im_start|>user\n"
            "I'd like to show off how chat templating works!<|im_end|>\n"
            "<|im_start|>assistant\n"
            "\n"
            "<think>Let me think <carefully>.</think>\n"
            "\n"
            "\n"
        ),
        id="qwen3/thinking/notools/True",
    ),
    pytest.param(
        "qwen3",
        "tools-done",
        True,
        None,
        (
            "<|im_start|>system\n"
            "\n"
            "# Tools\n"
            "\n"
            "You may call one or more functions to assist with the user query.\n"
            "\n"
            "You are provided with function signatures within <tools></tools> XML tags:"
            "\n"
            "<tools>\n"
            '{"type": "function", "function": {"name":"get_weather","description":"Get '
            'the weather \\u003cnow\\u003e \\u0026 later","parameters":{"type":"object"'
            ',"required":["location"],"properties":{"days":{"type":["integer","null"],"'
            'description":"How many days"},"location":{"type":"string","description":"C'
            'ity name, e.g. Paris"},"unit":{"type":"string","enum":["celsius","fahrenhe'
            'it"]}}}}}\n'
            '{"type": "function", "function": {"name":"search","description":"","parame'
            'ters":{"type":"object","properties":{"limit":{"anyOf":[{"type":"number"},{'
            '"type":"null"}]},"opts":{"type":"object"},"query":{"type":"string","descri'
            'ption":"What to look for"},"tags":{"type":"array","items":{"type":"string"'
            "}}}}}}\n"
            "</tools>\n"
            "\n"
            "For each function call, return a json object with function name and argume"
            "nts within <tool_call></tool_call> XML tags:\n"
            "<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n'
            "</tool_call>\n"
            "/no_think<|im_end|>\n"
            "<|im_start|>user\n"
            "Weather in Paris?<|im_end|>\n"
            "<|im_start|>assistant\n"
            "\n"
            "<tool_call>\n"
            '{"name": "get_weather", "arguments": {"days":3,"location":"Paris","unit":"'
            'celsius"}}\n'
            '{"name": "search", "arguments": {"limit":2.5,"nested":{"a":[true,null],"z"'
            ':1},"query":"\\u003cb\\u003e\\"quotes\\" \\u0026 \xe9\\u003c/b\\u003e","ta'
            'gs":["a","b"]}}\n'
            "</tool_call><|im_end|>\n"
            "<|im_start|>user\n"
            "<tool_response>\n"
            "sunny, 22C\n"
            "</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n"
            "\n"
            "Sunny.<|im_end|>\n"
            "<|im_start|>user\n"
            "Thanks!<|im_end|>\n"
            "<|im_start|>assistant\n"
            "\n"
        ),
        id="qwen3/tools-done/tools/None",
    ),
    pytest.param(
        "qwen2.5-style",
        "tools-done",
        True,
        None,
        (
            "<|im_start|>system\n"
            "\n"
            "# Tools\n"
            "\n"
            "You may call one or more functions to assist with the user query.\n"
            "\n"
            "You are provided with function signatures within <tools></tools> XML tags:"
            "\n"
            "<tools>\n"
            '{"type": "function", "function": {"name":"get_weather","description":"Get '
            'the weather \\u003cnow\\u003e \\u0026 later","parameters":{"type":"object"'
            ',"required":["location"],"properties":{"days":{"type":["integer","null"],"'
            'description":"How many days"},"location":{"type":"string","description":"C'
            'ity name, e.g. Paris"},"unit":{"type":"string","enum":["celsius","fahrenhe'
            'it"]}}}}}\n'
            '{"type": "function", "function": {"name":"search","description":"","parame'
            'ters":{"type":"object","properties":{"limit":{"anyOf":[{"type":"number"},{'
            '"type":"null"}]},"opts":{"type":"object"},"query":{"type":"string","descri'
            'ption":"What to look for"},"tags":{"type":"array","items":{"type":"string"'
            "}}}}}}\n"
            "</tools>\n"
            "\n"
            "For each function call, return a json object with function name and argume"
            "nts within <tool_call></tool_call> XML tags:\n"
            "<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n'
            "</tool_call><|im_end|>\n"
            "<|im_start|>user\n"
            "Weather in Paris?<|im_end|>\n"
            "<|im_start|>assistant\n"
            "<tool_call>\n"
            '{"name": "get_weather", "arguments": {"days":3,"location":"Paris","unit":"'
            'celsius"}}\n'
            '{"name": "search", "arguments": {"limit":2.5,"nested":{"a":[true,null],"z"'
            ':1},"query":"\\u003cb\\u003e\\"quotes\\" \\u0026 \xe9\\u003c/b\\u003e","ta'
            'gs":["a","b"]}}\n'
            "</tool_call><|im_end|>\n"
            "<|im_start|>user\n"
            "<tool_response>\n"
            "sunny, 22C\n"
            "</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n"
            "Sunny.<|im_end|>\n"
            "<|im_start|>user\n"
            "Thanks!<|im_end|>\n"
            "<|im_start|>assistant\n"
        ),
        id="qwen2.5-style/tools-done/tools/None",
    ),
    pytest.param(
        "qwen2.5-style",
        "user",
        False,
        None,
        "<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\n",
        id="qwen2.5-style/user/notools/None",
    ),
    pytest.param(
        "llama3.1-style",
        "tools-call",
        True,
        None,
        (
            "<|start_header_id|>system<|end_header_id|>\n"
            "\n"
            "You are a helpful assistant.\n"
            "\n"
            "Cutting Knowledge Date: December 2023\n"
            "\n"
            "When you receive a tool call response, use the output to format your answe"
            "r to the orginal user question.\n"
            "\n"
            "You are a helpful assistant with tool calling capabilities.<|eot_id|><|sta"
            "rt_header_id|>user<|end_header_id|>\n"
            "\n"
            "Weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
            "\n"
            '{"name": "get_weather", "parameters": {"days":3,"location":"Paris","unit":'
            '"celsius"}}\n'
            '{"name": "search", "parameters": {"limit":2.5,"nested":{"a":[true,null],"z'
            '":1},"query":"\\u003cb\\u003e\\"quotes\\" \\u0026 \xe9\\u003c/b\\u003e","t'
            'ags":["a","b"]}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n'
            "\n"
            "sunny, 22C<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n"
            "\n"
            "no results<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
            "\n"
        ),
        id="llama3.1-style/tools-call/tools/None",
    ),
    pytest.param(
        "llama3.1-style",
        "user",
        True,
        None,
        (
            "<|start_header_id|>system<|end_header_id|>\n"
            "\n"
            "Cutting Knowledge Date: December 2023\n"
            "\n"
            "When you receive a tool call response, use the output to format your answe"
            "r to the orginal user question.\n"
            "\n"
            "You are a helpful assistant with tool calling capabilities.<|eot_id|><|sta"
            "rt_header_id|>user<|end_header_id|>\n"
            "\n"
            "Given the following functions, please respond with a JSON for a function c"
            "all with its proper arguments that best answers the given prompt.\n"
            "\n"
            'Respond in the format {"name": function name, "parameters": dictionary of '
            "argument name and its value}. Do not use variables.\n"
            "\n"
            '{"type":"function","function":{"name":"get_weather","description":"Get the'
            ' weather \\u003cnow\\u003e \\u0026 later","parameters":{"type":"object","r'
            'equired":["location"],"properties":{"days":{"type":["integer","null"],"des'
            'cription":"How many days"},"location":{"type":"string","description":"City'
            ' name, e.g. Paris"},"unit":{"type":"string","enum":["celsius","fahrenheit"'
            "]}}}}}\n"
            '{"type":"function","function":{"name":"search","description":"","parameter'
            's":{"type":"object","properties":{"limit":{"anyOf":[{"type":"number"},{"ty'
            'pe":"null"}]},"opts":{"type":"object"},"query":{"type":"string","descripti'
            'on":"What to look for"},"tags":{"type":"array","items":{"type":"string"}}}'
            "}}}\n"
            "\n"
            "Question: Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_h"
            "eader_id|>\n"
            "\n"
        ),
        id="llama3.1-style/user/tools/None",
    ),
    pytest.param(
        "command-r",
        "tools-call",
        True,
        None,
        (
            "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|># Safety Preamble\n"
            "The instructions in this section override those in the task description an"
            "d style guide sections. Don't answer questions that are harmful or immoral"
            ".\n"
            "\n"
            "# System Preamble\n"
            "## Basic Rules\n"
            "You are a powerful conversational AI trained by Cohere to help people. You"
            " are augmented by a number of tools, and your job is to use and consume th"
            "e output of these tools to best help the user. You will see a conversation"
            " history between yourself and a user, ending with an utterance from the us"
            "er. You will then see a specific instruction instructing you what kind of "
            "response to generate. When you answer the user's requests, you cite your s"
            "ources in your answers, according to those instructions.\n"
            "\n"
            "# User Preamble\n"
            "You are a helpful assistant.\n"
            "\n"
            "## Available Tools\n"
            "Here is a list of tools that you have available to you:\n"
            "\n"
            "```python\n"
            "def get_weather(days: [integer null], location: string, unit: string, ) ->"
            " List[Dict]:\n"
            "    '''Get the weather <now> & later\n"
            "\n"
            "    Args:\n"
            "        days ([integer null]): How many days\n"
            "        location (string): City name, e.g. Paris\n"
            "        unit (string): \n"
            "    '''\n"
            "    pass\n"
            "```\n"
            "\n"
            "```python\n"
            "def search(limit: , opts: object, query: string, tags: array, ) -> List[Di"
            "ct]:\n"
            "    '''\n"
            "\n"
            "    Args:\n"
            "        limit (): \n"
            "        opts (object): \n"
            "        query (string): What to look for\n"
            "        tags (array): \n"
            "    '''\n"
            "    pass\n"
            "```<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Weather in Pa"
            "ris?<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>Write 'Action:' followed by a j"
            "son-formatted list of actions that you want to perform in order to produce"
            " a good response to the user's last input. You can use any of the supplied"
            " tools any number of times, but you should aim to execute the minimum numb"
            "er of necessary actions for the input. You should use the `directly-answer"
            "` tool if calling the other tools is unnecessary. The list of actions you "
            "want to call should be formatted as a list of json objects, for example:\n"
            "```json\n"
            "[\n"
            "    {\n"
            '        "tool_name": title of the tool in the specification,\n'
            '        "parameters": a dict of parameters to input into the tool as they '
            "are defined in the specs, or {} if it takes no parameters\n"
            "    }\n"
            "]```<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n"
            "Action: ```json\n"
            "[\n"
            "    {\n"
            '        "tool_name": "get_weather",\n'
            '        "parameters": {"days":3,"location":"Paris","unit":"celsius"}\n'
            "    }\n"
            "    {\n"
            '        "tool_name": "search",\n'
            '        "parameters": {"limit":2.5,"nested":{"a":[true,null],"z":1},"query'
            '":"\\u003cb\\u003e\\"quotes\\" \\u0026 \xe9\\u003c/b\\u003e","tags":["a","'
            'b"]}\n'
            "    }\n"
            "]```<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|><results>"
            "\n"
            "console_output: sunny, 22C\n"
            "</results><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|><res"
            "ults>\n"
            "console_output: no results\n"
            "</results><|END_OF_TURN_TOKEN|><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|"
            "><|CHATBOT_TOKEN|>\n"
        ),
        id="command-r/tools-call/tools/None",
    ),
    pytest.param(
        "command-r",
        "system-user-assistant-user",
        False,
        None,
        (
            "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant.<|END_O"
            "F_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello, how are you?<|EN"
            "D_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I'm doing great. "
            "How can I help you today?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USE"
            "R_TOKEN|>I'd like to show off how chat templating works!<|END_OF_TURN_TOKE"
            "N|><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n"
        ),
        id="command-r/system-user-assistant-user/notools/None",
    ),
    pytest.param(
        "mistral-tools-style",
        "tools-done",
        True,
        None,
        (
            '[INST] Weather in Paris?[/INST][TOOL_CALLS] [{"name": "get_weather", "argu'
            'ments": {"days":3,"location":"Paris","unit":"celsius"}}{"name": "search", '
            '"arguments": {"limit":2.5,"nested":{"a":[true,null],"z":1},"query":"\\u003'
            'cb\\u003e\\"quotes\\" \\u0026 \xe9\\u003c/b\\u003e","tags":["a","b"]}}]</s'
            '>[TOOL_RESULTS] {"content": sunny, 22C}[/TOOL_RESULTS] Sunny.</s>[AVAILABL'
            'E_TOOLS] [{"type":"function","function":{"name":"get_weather","description'
            '":"Get the weather \\u003cnow\\u003e \\u0026 later","parameters":{"type":"'
            'object","required":["location"],"properties":{"days":{"type":["integer","n'
            'ull"],"description":"How many days"},"location":{"type":"string","descript'
            'ion":"City name, e.g. Paris"},"unit":{"type":"string","enum":["celsius","f'
            'ahrenheit"]}}}}},{"type":"function","function":{"name":"search","descripti'
            'on":"","parameters":{"type":"object","properties":{"limit":{"anyOf":[{"typ'
            'e":"number"},{"type":"null"}]},"opts":{"type":"object"},"query":{"type":"s'
            'tring","description":"What to look for"},"tags":{"type":"array","items":{"'
            'type":"string"}}}}}}][/AVAILABLE_TOOLS][INST] Thanks![/INST]'
        ),
        id="mistral-tools-style/tools-done/tools/None",
    ),
    pytest.param(
        "deepseek",
        "tools-call",
        True,
        False,
        (
            "You are a helpful assistant.\n"
            "# Tools\n"
            "\n"
            "You may call one or more functions to assist with the user query.\n"
            "\n"
            "You are provided with function signatures within <tools></tools> XML tags:"
            "\n"
            "<tools>\n"
            '{"name":"get_weather","description":"Get the weather \\u003cnow\\u003e \\u'
            '0026 later","parameters":{"type":"object","required":["location"],"propert'
            'ies":{"days":{"type":["integer","null"],"description":"How many days"},"lo'
            'cation":{"type":"string","description":"City name, e.g. Paris"},"unit":{"t'
            'ype":"string","enum":["celsius","fahrenheit"]}}}}\n'
            '{"name":"search","description":"","parameters":{"type":"object","propertie'
            's":{"limit":{"anyOf":[{"type":"number"},{"type":"null"}]},"opts":{"type":"'
            'object"},"query":{"type":"string","description":"What to look for"},"tags"'
            ':{"type":"array","items":{"type":"string"}}}}}\n'
            "</tools>\n"
            "\n"
            "For each function call, return a json object with function name and argume"
            "nts within <tool_call></tool_call> XML tags.<\uff5cUser\uff5c>Weather in P"
            "aris?<\uff5cAssistant\uff5c>\n"
            "<\uff5ctool\u2581calls\u2581begin\uff5c>\n"
            "<\uff5ctool\u2581call\u2581begin\uff5c>function<\uff5ctool\u2581sep\uff5c>"
            "get_weather\n"
            "```json\n"
            '{"days":3,"location":"Paris","unit":"celsius"}\n'
            "```<\uff5ctool\u2581call\u2581end\uff5c>\n"
            "<\uff5ctool\u2581call\u2581begin\uff5c>function<\uff5ctool\u2581sep\uff5c>"
            "search\n"
            "```json\n"
            '{"limit":2.5,"nested":{"a":[true,null],"z":1},"query":"\\u003cb\\u003e\\"q'
            'uotes\\" \\u0026 \xe9\\u003c/b\\u003e","tags":["a","b"]}\n'
            "```<\uff5ctool\u2581call\u2581end\uff5c>\n"
            "<\uff5ctool\u2581calls\u2581end\uff5c><\uff5cend\u2581of\u2581sentence"
            "\uff5c><\uff5cend\u2581of\u2581sentence\uff5c>\n"
            "<\uff5ctool\u2581output\u2581begin\uff5c>sunny, 22C<\uff5ctool\u2581output"
            "\u2581end\uff5c>\n"
            "\n"
            "<\uff5ctool\u2581output\u2581begin\uff5c>no results<\uff5ctool\u2581output"
            "\u2581end\uff5c>\n"
            "<\uff5cAssistant\uff5c><think> </think>\n"
            "    "
        ),
        id="deepseek/tools-call/tools/False",
    ),
    pytest.param(
        "deepseek",
        "thinking",
        False,
        True,
        (
            "<\uff5cUser\uff5c>Hello, how are you?<\uff5cAssistant\uff5c>Hi!<\uff5cend"
            "\u2581of\u2581sentence\uff5c><\uff5cUser\uff5c>I'd like to show off how ch"
            "at templating works!<\uff5cAssistant\uff5c><think>\n"
            "        Let me think <carefully>.\n"
            "      </think>"
        ),
        id="deepseek/thinking/notools/True",
    ),
    pytest.param(
        "deepseek",
        "user",
        False,
        False,
        "<\uff5cUser\uff5c>Hello, how are you?<\uff5cAssistant\uff5c><think> </think>\n    ",
        id="deepseek/user/notools/False",
    ),
    pytest.param(
        "deepseek",
        "user",
        False,
        None,
        "<\uff5cUser\uff5c>Hello, how are you?<\uff5cAssistant\uff5c>",
        id="deepseek/user/notools/None",
    ),
    pytest.param(
        "typescript-tools",
        "user",
        True,
        None,
        (
            "\n"
            "// Get the weather <now> & later\n"
            "type get_weather = (_: {\n"
            "// How many days\n"
            "days: number | null,\n"
            "// City name, e.g. Paris\n"
            "location: string,\n"
            "// \n"
            'unit: string /* one of ["celsius","fahrenheit"] */,\n'
            "}) => any;\n"
            "// \n"
            "type search = (_: {\n"
            "// \n"
            "limit: number | null,\n"
            "// \n"
            "opts: Record<string, any>,\n"
            "// What to look for\n"
            "query: string,\n"
            "// \n"
            "tags: any[],\n"
            "}) => any;\n"
            '[{"type":"function","function":{"name":"get_weather","description":"Get th'
            'e weather \\u003cnow\\u003e \\u0026 later","parameters":{"type":"object","'
            'required":["location"],"properties":{"days":{"type":["integer","null"],"de'
            'scription":"How many days"},"location":{"type":"string","description":"Cit'
            'y name, e.g. Paris"},"unit":{"type":"string","enum":["celsius","fahrenheit'
            '"]}}}}},{"type":"function","function":{"name":"search","description":"","p'
            'arameters":{"type":"object","properties":{"limit":{"anyOf":[{"type":"numbe'
            'r"},{"type":"null"}]},"opts":{"type":"object"},"query":{"type":"string","d'
            'escription":"What to look for"},"tags":{"type":"array","items":{"type":"st'
            'ring"}}}}}}]\n'
            'location;{object <nil> <nil> [location] {"days":{"type":["integer","null"]'
            ',"description":"How many days"},"location":{"type":"string","description":'
            '"City name, e.g. Paris"},"unit":{"type":"string","enum":["celsius","fahren'
            'heit"]}}}|{"days":{"type":["integer","null"],"description":"How many days"'
            '},"location":{"type":"string","description":"City name, e.g. Paris"},"unit'
            '":{"type":"string","enum":["celsius","fahrenheit"]}};{object <nil> <nil> ['
            '] {"limit":{"anyOf":[{"type":"number"},{"type":"null"}]},"opts":{"type":"o'
            'bject"},"query":{"type":"string","description":"What to look for"},"tags":'
            '{"type":"array","items":{"type":"string"}}}}|{"limit":{"anyOf":[{"type":"n'
            'umber"},{"type":"null"}]},"opts":{"type":"object"},"query":{"type":"string'
            '","description":"What to look for"},"tags":{"type":"array","items":{"type"'
            ':"string"}}}'
        ),
        id="typescript-tools/user/tools/None",
    ),
    pytest.param(
        "message-fields",
        "tools-call",
        False,
        None,
        (
            '0 system "You are a helpful assistant."   0\n'
            '1 user "Weather in Paris?"   0\n'
            '2 assistant ""   0 call[call_1 0 get_weather {"days":3,"location":"Paris",'
            '"unit":"celsius"} {"days":3,"location":"Paris","unit":"celsius"} days=3 lo'
            'cation=Paris unit=celsius] call[ 1 search {"limit":2.5,"nested":{"a":[true'
            ',null],"z":1},"query":"\\u003cb\\u003e\\"quotes\\" \\u0026 \xe9\\u003c/b\\'
            'u003e","tags":["a","b"]} {"limit":2.5,"nested":{"a":[true,null],"z":1},"qu'
            'ery":"\\u003cb\\u003e\\"quotes\\" \\u0026 \xe9\\u003c/b\\u003e","tags":["a'
            '","b"]} limit=2.5 nested=map[a:[true <nil>] z:1] query=<b>"quotes" & \xe9<'
            "/b> tags=[a b]]\n"
            '3 tool "sunny, 22C" get_weather call_1 0\n'
            '4 tool "no results" search  0\n'
        ),
        id="message-fields/tools-call/notools/None",
    ),
    pytest.param(
        "message-fields",
        "merge",
        False,
        None,
        (
            '0 system "s1"   0\n'
            '1 user "a\\n\\nb"   0\n'
            '2 system "s2"   0\n'
            '3 assistant "c\\n\\nd"   0\n'
            '4 tool "sunny, 22C" get_weather call_1 0\n'
            '5 tool "no results" search  0\n'
            '6 user "e"   0\n'
        ),
        id="message-fields/merge/notools/None",
    ),
    pytest.param(
        "think-flags",
        "user",
        False,
        None,
        (
            "[user:Hello, how are you?]|Think=false|ThinkLevel=|IsThinkSet=false|System"
            "=|Tools=null|Response=|Missing=<no value>"
        ),
        id="think-flags/user/notools/None",
    ),
    pytest.param(
        "think-flags",
        "user",
        False,
        True,
        (
            "[user:Hello, how are you?]|Think=true|ThinkLevel=medium|IsThinkSet=true|Sy"
            "stem=|Tools=null|Response=|Missing=<no value>"
        ),
        id="think-flags/user/notools/True",
    ),
    pytest.param(
        "think-flags",
        "user",
        False,
        False,
        (
            "[user:Hello, how are you?]|Think=false|ThinkLevel=|IsThinkSet=true|System="
            "|Tools=null|Response=|Missing=<no value>"
        ),
        id="think-flags/user/notools/False",
    ),
    pytest.param(
        "think-flags",
        "user",
        False,
        "high",
        (
            "[user:Hello, how are you?]|Think=true|ThinkLevel=high|IsThinkSet=true|Syst"
            "em=|Tools=null|Response=|Missing=<no value>"
        ),
        id="think-flags/user/notools/high",
    ),
    pytest.param(
        "think-flags",
        "user",
        True,
        True,
        (
            "[user:Hello, how are you?]|Think=true|ThinkLevel=medium|IsThinkSet=true|Sy"
            'stem=|Tools=[{"type":"function","function":{"name":"get_weather","descript'
            'ion":"Get the weather \\u003cnow\\u003e \\u0026 later","parameters":{"type'
            '":"object","required":["location"],"properties":{"days":{"type":["integer"'
            ',"null"],"description":"How many days"},"location":{"type":"string","descr'
            'iption":"City name, e.g. Paris"},"unit":{"type":"string","enum":["celsius"'
            ',"fahrenheit"]}}}}},{"type":"function","function":{"name":"search","descri'
            'ption":"","parameters":{"type":"object","properties":{"limit":{"anyOf":[{"'
            'type":"number"},{"type":"null"}]},"opts":{"type":"object"},"query":{"type"'
            ':"string","description":"What to look for"},"tags":{"type":"array","items"'
            ':{"type":"string"}}}}}}]|Response=|Missing=<no value>'
        ),
        id="think-flags/user/tools/True",
    ),
    pytest.param(
        "think-flags",
        "empty",
        False,
        None,
        (
            "|Think=false|ThinkLevel=|IsThinkSet=false|System=|Tools=null|Response=|Mis"
            "sing=<no value>"
        ),
        id="think-flags/empty/notools/None",
    ),
]

SUFFIX_CASES = [
    pytest.param("suffix", "<PRE> def add( <SUF>return x <MID>", id="suffix"),
    pytest.param(
        "think-flags",
        (
            "|Think=true|ThinkLevel=medium|IsThinkSet=true|System=<no value>|Tools=<no "
            "value>|Response=|Missing=return x"
        ),
        id="think-flags",
    ),
    pytest.param("prompt-only", "def add(", id="prompt-only"),
    pytest.param("chatml", "<|im_start|>assistant\n", id="chatml"),
    pytest.param(
        "phi-3-legacy", "<|user|>\ndef add(<|end|>\n<|assistant|>\n<|end|>", id="phi-3-legacy"
    ),
]


# Ollama's template/testdata files for its standard conversations (those whose template
# version is the one above).  Ollama's test drops one trailing space for some templates.
OLLAMA_TESTDATA = [
    (
        "gemma3-instruct",
        "system-user-assistant-user",
        "<start_of_turn>user\nYou are a helpful assistant.\n\nHello, how are you?<end_of_turn>\n"
        "<start_of_turn>model\nI'm doing great. How can I help you today?<end_of_turn>\n"
        "<start_of_turn>user\nI'd like to show off how chat templating works!<end_of_turn>\n"
        "<start_of_turn>model\n\n",
    ),
    (
        "gemma3-instruct",
        "user-assistant-user",
        "<start_of_turn>user\nHello, how are you?<end_of_turn>\n"
        "<start_of_turn>model\nI'm doing great. How can I help you today?<end_of_turn>\n"
        "<start_of_turn>user\nI'd like to show off how chat templating works!<end_of_turn>\n"
        "<start_of_turn>model\n\n",
    ),
    (
        "gemma3-instruct",
        "user",
        "<start_of_turn>user\nHello, how are you?<end_of_turn>\n<start_of_turn>model\n\n",
    ),
    (
        "llama3-instruct",
        "system-user-assistant-user",
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
        "I'm doing great. How can I help you today?<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n"
        "I'd like to show off how chat templating works!<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    (
        "chatml",
        "system-user-assistant-user",
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHello, how are you?<|im_end|>\n"
        "<|im_start|>assistant\nI'm doing great. How can I help you today?<|im_end|>\n"
        "<|im_start|>user\nI'd like to show off how chat templating works!<|im_end|>\n"
        "<|im_start|>assistant\n",
    ),
    (
        "llama2-chat",
        "user-assistant-user",
        "[INST] <<SYS>><</SYS>>\n\nHello, how are you? [/INST] I'm doing great. How can I help you "
        "today?</s><s>[INST] <<SYS>><</SYS>>\n\nI'd like to show off how chat templating works! "
        "[/INST]",
    ),
    (
        "alpaca",
        "system-user-assistant-user",
        "You are a helpful assistant.\n\n### Instruction:\nHello, how are you?\n\n### Response:\n"
        "I'm doing great. How can I help you today?\n\n### Instruction:\n"
        "I'd like to show off how chat templating works!\n\n### Response:\n",
    ),
    (
        "mistral-instruct",
        "user-assistant-user",
        "[INST] Hello, how are you?[/INST] I'm doing great. How can I help you today?</s>"
        "[INST] I'd like to show off how chat templating works![/INST]",
    ),
    (
        "mistral-instruct",
        "system-user-assistant-user",
        "[INST] You are a helpful assistant.\n\nHello, how are you?[/INST] I'm doing great. "
        "How can I help you today?</s>[INST] I'd like to show off how chat templating works!"
        "[/INST]",
    ),
    (
        "vicuna",
        "user-assistant-user",
        "USER: Hello, how are you?\nASSISTANT: I'm doing great. How can I help you today?</s>\n"
        "USER: I'd like to show off how chat templating works!\nASSISTANT:",
    ),
]


@pytest.mark.parametrize(("name", "messages", "expected"), OLLAMA_TESTDATA)
def test_ollama_testdata(name: str, messages: str, expected: str) -> None:
    out = render(Template(TEMPLATES[name]), messages=MESSAGES[messages])
    if name in ("llama2-chat", "mistral-instruct", "vicuna") and out.endswith(" "):
        out = out[:-1]
    assert out == expected


@pytest.mark.parametrize(("name", "messages", "with_tools", "think", "expected"), RENDER_CASES)
def test_render(
    name: str, messages: str, with_tools: bool, think: bool | str | None, expected: str
) -> None:
    tmpl = Template(TEMPLATES[name])
    out = render(
        tmpl, messages=MESSAGES[messages], tools=TOOLS if with_tools else None, think=think
    )
    assert out == expected


@pytest.mark.parametrize(("name", "expected"), SUFFIX_CASES)
def test_render_suffix_mode(name: str, expected: str) -> None:
    out = render(
        Template(TEMPLATES[name]),
        messages=MESSAGES["user"],
        prompt="def add(",
        suffix="return x",
        think=True,
    )
    assert out == expected


def test_gemma3_template_constant() -> None:
    tmpl = Template(GEMMA3_TEMPLATE)
    assert tmpl.uses_messages and not tmpl.uses_tools and not tmpl.uses_suffix
    out = render(tmpl, messages=[{"role": "user", "content": "Why is the sky blue?"}])
    assert out == "<start_of_turn>user\nWhy is the sky blue?<end_of_turn>\n<start_of_turn>model\n"
    assert infer_thinking_tags(tmpl) is None
    assert tool_call_tag(tmpl) == "{"


def test_inputs_are_not_mutated() -> None:
    messages = [dict(m) for m in MESSAGES["merge"]]
    before = json.dumps(messages)
    render(Template(TEMPLATES["chatml"]), messages=messages)
    assert json.dumps(messages) == before


# Ollama's template_test.go: TestExecuteWithMessages (every variant renders the same prompt).
_MISTRAL_VARIANTS = [
    "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}[/INST] ",
    "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}[/INST] {{ .Response }}",
    "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}\n{{- range .Messages }}\n"
    '{{- if eq .Role "user" }}{{ .Content }}[/INST] {{ else if eq .Role "assistant" }}'
    "{{ .Content }}[INST] {{ end }}\n{{- end }}",
]


@pytest.mark.parametrize(
    ("variants", "messages", "expected"),
    [
        pytest.param(
            _MISTRAL_VARIANTS,
            [
                {"role": "user", "content": "Hello friend!"},
                {"role": "assistant", "content": "Hello human!"},
                {"role": "user", "content": "What is your name?"},
            ],
            "[INST] Hello friend![/INST] Hello human![INST] What is your name?[/INST] ",
            id="mistral",
        ),
        pytest.param(
            _MISTRAL_VARIANTS,
            [
                {"role": "system", "content": "You are a helpful assistant!"},
                {"role": "user", "content": "Hello friend!"},
                {"role": "assistant", "content": "Hello human!"},
                {"role": "user", "content": "What is your name?"},
            ],
            "[INST] You are a helpful assistant!\n\nHello friend![/INST] Hello human![INST] "
            "What is your name?[/INST] ",
            id="mistral system",
        ),
        pytest.param(
            [
                "[INST] {{ .Prompt }}[/INST] ",
                "[INST] {{ .Prompt }}[/INST] {{ .Response }}",
                "\n{{- range $i, $m := .Messages }}\n"
                '{{- if eq .Role "user" }}[INST] {{ .Content }}[/INST] '
                '{{ else if eq .Role "assistant" }}{{ .Content }}{{ end }}\n{{- end }}',
            ],
            [
                {"role": "user", "content": "Hello friend!"},
                {"role": "assistant", "content": "Hello human!"},
                {"role": "user", "content": "What is your name?"},
                {"role": "assistant", "content": "My name is Ollama and I"},
            ],
            "[INST] Hello friend![/INST] Hello human![INST] What is your name?[/INST] "
            "My name is Ollama and I",
            id="mistral assistant",
        ),
        pytest.param(
            [
                "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
                "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
                "<|im_start|>assistant\n{{ .Response }}<|im_end|>\n",
                "\n{{- range $index, $_ := .Messages }}<|im_start|>{{ .Role }}\n"
                "{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n",
            ],
            [
                {"role": "system", "content": "You are a helpful assistant!"},
                {"role": "user", "content": "Hello friend!"},
                {"role": "assistant", "content": "Hello human!"},
                {"role": "user", "content": "What is your name?"},
            ],
            "<|im_start|>system\nYou are a helpful assistant!<|im_end|>\n"
            "<|im_start|>user\nHello friend!<|im_end|>\n"
            "<|im_start|>assistant\nHello human!<|im_end|>\n"
            "<|im_start|>user\nWhat is your name?<|im_end|>\n"
            "<|im_start|>assistant\n",
            id="chatml",
        ),
    ],
)
def test_legacy_and_messages_modes_agree(
    variants: list[str], messages: list[dict[str, Any]], expected: str
) -> None:
    for source in variants:
        assert render(Template(source), messages=messages) == expected, source


def test_execute_with_suffix() -> None:
    # Ollama's TestExecuteWithSuffix
    tmpl = Template(TEMPLATES["suffix"])
    assert render(tmpl, messages=[{"role": "user", "content": "hello"}]) == "hello"
    assert (
        render(tmpl, messages=[], prompt="def add(", suffix="return x")
        == "<PRE> def add( <SUF>return x <MID>"
    )
    # Without a prompt there is no suffix mode, and the messages are used as given.
    assert render(tmpl, messages=[{"role": "user", "content": "hi"}], suffix="x") == "hi"


def test_prompt_becomes_a_user_turn_without_suffix() -> None:
    tmpl = Template(TEMPLATES["chatml"])
    out = render(tmpl, messages=[{"role": "system", "content": "sys"}], prompt="hi")
    assert out == (
        "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert render(Template("{{ .Prompt }}"), messages=[], prompt="raw") == "raw"


def test_legacy_mode_cuts_the_last_turn_after_response() -> None:
    tmpl = Template(
        "{{ if .System }}S:{{ .System }}|{{ end }}U:{{ .Prompt }}|A:{{ .Response }}</s>"
    )
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "system", "content": "sys2"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "partial"},
    ]
    assert render(tmpl, messages=messages) == "S:sys|U:q1|A:a1</s>S:sys2|U:q2|A:partial"
    # Tool turns and tools are invisible to a legacy template.
    assert render(tmpl, messages=MESSAGES["tools-call"], tools=TOOLS) == (
        "S:You are a helpful assistant.|U:Weather in Paris?|A:"
    )


def test_legacy_cut_keeps_the_response_action_and_drops_what_follows() -> None:
    tmpl = Template(
        "{{ .Prompt }}{{ if .Prompt }}[{{ .Response }}]{{ else }}nothing{{ end }}<after>"
    )
    assert render(tmpl, messages=[{"role": "user", "content": "q"}]) == "q["
    # A pipeline that continues after .Response is dropped whole.
    tmpl = Template('{{ .Prompt }}:{{ .Response | printf "%s!" }}END')
    assert render(tmpl, messages=[{"role": "user", "content": "q"}]) == "q:"


def test_response_is_appended_when_the_template_has_neither_messages_nor_response() -> None:
    tmpl = Template("{{ .System }} {{ .Prompt }}")
    assert tmpl.source == "{{ .System }} {{ .Prompt }}"
    assert tmpl.uses_response
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert render(tmpl, messages=messages) == " qa"
    assert Template("{{ .Prompt }}").execute({"Prompt": "p", "Response": "r"}) == "pr"
    assert Template("{{ range .Messages }}{{ end }}").execute({"Messages": []}) == ""


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("{{ .Prompt }}", ["prompt", "response"]),
        ("{{ .System }} {{ .Prompt }}", ["prompt", "response", "system"]),
        ("{{ .System }} {{ .Prompt }} {{ .Response }}", ["prompt", "response", "system"]),
        (
            "{{ with .Tools }}{{ . }}{{ end }} {{ .System }} {{ .Prompt }}",
            ["prompt", "response", "system", "tools"],
        ),
        (
            "{{ range .Messages }}{{ .Role }} {{ .Content }}{{ end }}",
            ["content", "messages", "role"],
        ),
        (
            '{{ range .Messages }}{{ if eq .Role "tool" }}Tool Result: {{ .ToolName }} '
            "{{ .Content }}{{ end }}{{ end }}",
            ["content", "messages", "role", "toolname"],
        ),
        (
            '{{- range .Messages }}\n{{- if eq .Role "system" }}SYSTEM:\n'
            '{{- else if eq .Role "user" }}USER:\n{{- else if eq .Role "assistant" }}ASSISTANT:\n'
            '{{- else if eq .Role "tool" }}TOOL:\n{{- end }} {{ .Content }}\n{{- end }}',
            ["content", "messages", "role"],
        ),
        (
            "{{- if .Messages }}\n{{- range .Messages }}<|im_start|>{{ .Role }}\n"
            "{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ else -}}\n"
            "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
            "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
            "<|im_start|>assistant\n{{ .Response }}<|im_end|>\n{{- end -}}",
            ["content", "messages", "prompt", "response", "role", "system"],
        ),
    ],
)
def test_vars(source: str, names: list[str]) -> None:
    # Ollama's TestParse; variables count too ($, $last, ...), chains do not.
    tmpl = Template(source)
    assert sorted(n for n in tmpl.vars if not n.startswith("$")) == names


def test_uses_properties() -> None:
    qwen3 = Template(TEMPLATES["qwen3"])
    assert qwen3.uses_messages and qwen3.uses_tools and qwen3.uses_thinking
    assert not qwen3.uses_suffix
    suffix = Template(TEMPLATES["suffix"])
    assert suffix.uses_suffix and not suffix.uses_messages and suffix.uses_response
    phi3 = Template(TEMPLATES["phi-3-legacy"])
    assert not phi3.uses_messages and not phi3.uses_tools and phi3.uses_response
    assert "$last" in Template(GEMMA3_TEMPLATE).vars


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ .Prompt ", "unclosed action"),
        ('{{define "x"}}{{template "x"}}{{end}}{{template "x"}}', "undefined template specified"),
    ],
)
def test_ollama_parse_errors(source: str, message: str) -> None:
    # Ollama's TestParseError
    with pytest.raises(TemplateError, match=message):
        Template(source)


def test_templates_are_cached_by_source() -> None:
    source = TEMPLATES["qwen3"] + "{{/* cache */}}"
    first = Template(source)
    second = Template(source)
    assert first is not second
    assert first._c is second._c


def test_render_is_fast() -> None:
    messages: list[dict[str, Any]] = []
    for i in range(5):
        messages.append({"role": "user", "content": f"question {i} " * 20})
        messages.append({"role": "assistant", "content": f"answer {i} " * 30})
    messages.append({"role": "user", "content": "last"})
    for source, tools in ((GEMMA3_TEMPLATE, None), (TEMPLATES["qwen3"], TOOLS)):
        tmpl = Template(source)
        render(tmpl, messages=messages, tools=tools)
        runs = 50
        start = time.perf_counter()
        for _ in range(runs):
            render(tmpl, messages=messages, tools=tools)
        # Typically about 0.1-0.3 ms; the bound leaves room for slow machines.
        assert (time.perf_counter() - start) / runs < 0.01


# ---------------------------------------------------------------------------------------------
# Think values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("think", "expected"),
    [
        (None, "false||false"),
        (True, "true|medium|true"),
        (False, "false||true"),
        ("high", "true|high|true"),
        ("low", "true|low|true"),
    ],
)
def test_think_values(think: bool | str | None, expected: str) -> None:
    tmpl = Template(
        "{{ range .Messages }}{{ end }}{{ .Think }}|{{ .ThinkLevel }}|{{ .IsThinkSet }}"
    )
    assert render(tmpl, messages=[], think=think) == expected
    legacy = Template(
        "{{ .Prompt }}{{ .Think }}|{{ .ThinkLevel }}|{{ .IsThinkSet }}{{ .Response }}"
    )
    assert render(legacy, messages=[], think=think) == expected


# ---------------------------------------------------------------------------------------------
# The message and tool views
# ---------------------------------------------------------------------------------------------


def test_collate() -> None:
    # Ollama's TestCollate
    msgs = template_messages(
        [
            {"role": "system", "content": "You are helpful"},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi there!"},
            {"role": "user", "content": "What's the weather?"},
            {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
            {"role": "tool", "content": "72F", "tool_name": "get_temperature"},
            {"role": "user", "content": "Thanks"},
        ]
    )
    assert [(m.Role, m.Content, m.ToolName) for m in msgs] == [
        ("system", "You are helpful", ""),
        ("user", "Hello", ""),
        ("assistant", "Hi there!", ""),
        ("user", "What's the weather?", ""),
        ("tool", "sunny", "get_weather"),
        ("tool", "72F", "get_temperature"),
        ("user", "Thanks", ""),
    ]
    merged = template_messages(
        [{"role": "user", "content": "Hello"}, {"role": "user", "content": "How are you?"}]
    )
    assert [(m.Role, m.Content) for m in merged] == [("user", "Hello\n\nHow are you?")]
    system = render(
        Template("{{ .System }}{{ range .Messages }}{{ end }}"), messages=MESSAGES["merge"]
    )
    assert system == "s1\n\ns2"


def test_arguments_print_as_json_and_range_sorted() -> None:
    # Ollama's TestTemplateArgumentsJSON / TestTemplateArgumentsRange
    call = {
        "role": "assistant",
        "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"unit": "celsius", "city": "Tokyo"}}}
        ],
    }
    tmpl = Template(
        "{{- range .Messages }}{{- range .ToolCalls }}{{ .Function.Arguments }}{{- end }}{{- end }}"
    )
    assert render(tmpl, messages=[call]) == '{"city":"Tokyo","unit":"celsius"}'
    tmpl = Template(
        "{{- range .Messages }}{{- range .ToolCalls }}{{- range $k, $v := .Function.Arguments }}"
        "{{ $k }}={{ $v }};{{- end }}{{- end }}{{- end }}"
    )
    assert render(tmpl, messages=[call]) == "city=Tokyo;unit=celsius;"
    # Arguments given as a JSON string, or missing, are accepted too.
    string_args = {
        "role": "assistant",
        "tool_calls": [
            {"function": {"name": "f", "arguments": '{"n": 1}'}},
            {"function": {"name": "g"}},
        ],
    }
    tmpl = Template(
        "{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Arguments }}|"
        "{{ json .Function.Arguments }};{{ end }}{{ end }}"
    )
    assert render(tmpl, messages=[string_args]) == '{"n":1}|{"n":1};{}|null;'


def test_properties_print_as_json_and_range_sorted() -> None:
    # Ollama's TestTemplatePropertiesJSON / TestTemplatePropertiesRange
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {"type": "string", "description": "City name"},
                        "celsius": {"type": "boolean"},
                    },
                },
            },
        }
    ]
    messages = [{"role": "user", "content": "test"}]
    tmpl = Template(
        "{{- range .Messages }}{{- end }}"
        "{{- range .Tools }}{{ .Function.Parameters.Properties }}{{- end }}"
    )
    assert render(tmpl, messages=messages, tools=tools) == (
        '{"celsius":{"type":"boolean"},"location":{"type":"string","description":"City name"}}'
    )
    tmpl = Template(
        "{{- range .Messages }}{{- end }}{{- range .Tools }}"
        "{{- range $name, $prop := .Function.Parameters.Properties }}{{ $name }}:{{ $prop.Type }};"
        "{{- end }}{{- end }}"
    )
    assert render(tmpl, messages=messages, tools=tools) == "celsius:boolean;location:string;"


def test_tool_values_print_as_json() -> None:
    tools = template_tools(TOOLS[:1])
    tool = tools[0]
    expected_function = (
        '{"name":"get_weather","description":"Get the weather \\u003cnow\\u003e \\u0026 later",'
        '"parameters":{"type":"object","required":["location"],"properties":{"days":'
        '{"type":["integer","null"],"description":"How many days"},"location":{"type":"string",'
        '"description":"City name, e.g. Paris"},"unit":{"type":"string","enum":["celsius",'
        '"fahrenheit"]}}}}'
    )
    assert go_sprint(tool.Function) == expected_function
    assert go_sprint(tool) == '{"type":"function","function":' + expected_function + "}"
    assert go_sprint(tools) == "[" + go_sprint(tool) + "]"
    assert go_json(tools) == go_sprint(tools)
    assert go_sprint(tool.Function.Parameters.Properties["days"].Type) == "[integer null]"
    assert go_sprint(tool.Function.Parameters.Properties["unit"].Type) == "string"
    # Nil views, as Go prints them.
    assert go_sprint(template_tools(None)) == "null"
    assert go_sprint(tpl.ArgsMap(None)) == "{}"
    assert go_json(tpl.ArgsMap(None)) == "null"
    assert go_sprint(tpl.PropertiesMap(None)) == "{}"


def test_tools_without_a_nil_list_render_as_absent() -> None:
    tmpl = Template(
        "{{ range .Messages }}{{ end }}{{ if .Tools }}yes{{ else }}no{{ end }}|{{ .Tools }}"
    )
    assert render(tmpl, messages=[]) == "no|null"
    assert render(tmpl, messages=[], tools=[]) == "no|[]"


def test_nested_properties_keep_their_order() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "point": {
                            "type": "object",
                            "properties": {"y": {"type": "number"}, "x": {"type": "number"}},
                            "required": ["y"],
                            "default": "dropped, as Ollama's ToolProperty has no such field",
                        }
                    },
                },
            },
        }
    ]
    assert go_sprint(template_tools(tools)[0].Function.Parameters.Properties) == (
        '{"point":{"type":"object","properties":{"y":{"type":"number"},"x":{"type":"number"}},'
        '"required":["y"]}}'
    )


def test_to_typescript_type() -> None:
    props = template_tools(TOOLS)[1].Function.Parameters.Properties
    assert props["limit"].to_typescript_type() == "number | null"
    assert props["tags"].to_typescript_type() == "any[]"
    assert props["opts"].to_typescript_type() == "Record<string, any>"
    assert ex("{{ toTypeScriptType .A }}") == "any"


def test_wire_objects_may_be_msgspec_structs() -> None:
    class Function(msgspec.Struct):
        name: str
        arguments: dict[str, Any]

    class Call(msgspec.Struct):
        function: Function

    class Message(msgspec.Struct):
        role: str
        content: str
        tool_calls: list[Call] | None = None

    messages = [Message("assistant", "", [Call(Function("f", {"a": 1}))])]
    tmpl = Template(
        "{{ range .Messages }}{{ .Role }}{{ range .ToolCalls }} "
        "{{ .Function.Name }}{{ .Function.Arguments }}{{ end }}{{ end }}"
    )
    assert render(tmpl, messages=messages) == 'assistant f{"a":1}'


def test_message_view_fields() -> None:
    (msg,) = template_messages(
        [
            {
                "role": "assistant",
                "content": None,
                "thinking": "hmm",
                "images": ["aGk="],
                "tool_calls": [
                    {"id": "c1", "function": {"index": 2, "name": "f", "arguments": {"x": 1}}}
                ],
                "tool_name": "n",
                "tool_call_id": "id",
            }
        ]
    )
    assert (msg.Role, msg.Content, msg.Thinking, msg.Images, msg.ToolName, msg.ToolCallID) == (
        "assistant",
        "",
        "hmm",
        ["aGk="],
        "n",
        "id",
    )
    (call,) = msg.ToolCalls
    assert (call.ID, call.Function.Index, call.Function.Name) == ("c1", 2, "f")
    # JSON numbers are float64 to a Go template, exactly as in Ollama.
    assert call.Function.Arguments == {"x": 1.0}
    assert isinstance(call.Function.Arguments["x"], float)


# ---------------------------------------------------------------------------------------------
# InferTags (thinking) and the tool-call tag
# ---------------------------------------------------------------------------------------------

_INFER_BASIC = """
\t\t\t{{ if .Thinking}}
\t\t\t\t/think
\t\t\t{{ end }}
\t\t\t{{- range $i, $_ := .Messages }}
\t\t\t\t{{- $last := eq (len (slice $.Messages $i)) 1 -}}
\t\t\t\t{{ if and $last .Thinking }}
\t\t\t\t\t<think>{{ .Thinking }}</think>
\t\t\t\t{{ end }}
\t\t\t{{ end }}
\t\t"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(_INFER_BASIC, ("<think>", "</think>"), id="basic"),
        pytest.param(
            """
\t\t\t{{ if .Thinking}}
\t\t\t\t/think
\t\t\t{{ end }}
\t\t\t{{- range $i, $_ := .Messages }}
\t\t\t\t{{- range $j, $_ := .NotMessages }}
\t\t\t\t\t{{- $last := eq (len (slice $.Messages $i)) 1 -}}
\t\t\t\t\t{{ if and $last .Thinking }}
\t\t\t\t\t\t<think>{{ .Thinking }}</think>
\t\t\t\t\t{{ end }}
\t\t\t\t{{ end }}
\t\t\t{{ end }}
\t\t""",
            None,
            id="doubly nested range",
        ),
        pytest.param(
            _INFER_BASIC.replace(
                "<think>{{ .Thinking }}</think>",
                "Some text before   {{ .Thinking }}    Some text after",
            ),
            ("Some text before", "Some text after"),
            id="whitespace is trimmed",
        ),
        pytest.param(
            """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<start_of_turn>user
{{- if and (eq $i 1) $.System }}
{{ $.System }}
{{ end }}
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{- if and $last .Thinking }}<unused94>{{ .Thinking }}<unused95>
{{ end }}
{{ .Content }}<end_of_turn>
{{ end }}
{{- if $last }}<start_of_turn>model{{ if $.Think }}<unused94>{{ end }}
{{ end }}
{{- end }}""",
            ("<unused94>", "<unused95>"),
            id="gemma3-instruct",
        ),
        pytest.param("qwen3", ("<think>", "</think>"), id="qwen3"),
        pytest.param("deepseek", ("<think>", "</think>"), id="deepseek"),
        pytest.param("chatml", None, id="chatml"),
        pytest.param(
            "{{ range $.Messages }}<t>{{ .Thinking }}</t>{{ end }}",
            None,
            id="range over $.Messages",
        ),
    ],
)
def test_infer_thinking_tags(source: str, expected: tuple[str, str] | None) -> None:
    # Ollama's TestInferThinkingTags, plus a few library templates.
    source = TEMPLATES.get(source, source)
    assert infer_thinking_tags(Template(source)) == expected
    assert infer_thinking_tags(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("", "{"),
        ("{{if .ToolCalls}}{{end}}", "{"),
        ("{{if .ToolCalls}}{{range .ToolCalls}}{{ . }}{{end}}{{end}}", "{"),
        ("{{if .ToolCalls}}```json\n{{end}}", "```json"),
        ("{{if .ToolCalls}}[{{range .ToolCalls}}{{ . }}{{end}}]{{end}}", "["),
        ("{{if .ToolCalls}}\n [ {{range .ToolCalls}}{{ . }}{{end}}]{{end}}", "["),
        ("{{if .ToolCalls}}{{range .ToolCalls}}{{ . }}{{end}}]{{end}}", "{"),
        ("{{if .ToolCalls}} {{range .ToolCalls}}{{ . }}{{end}}{{end}}", "{"),
        ("{{if .ToolCalls}}{{range .ToolCalls}}\n{{ . }}\n{{end}}{{end}}", "{"),
        (
            '{{if .ToolCalls}}{{range .ToolCalls}}{"name": "{{ .Function.Name }}", '
            '"arguments": {{ .Function.Arguments }}}{{end}}{{end}}',
            "{",
        ),
        (
            "{{if .ToolCalls}}<|tool\u2581calls\u2581begin|>{{range .ToolCalls}}"
            "<|tool\u2581call\u2581begin|>functionget_current_weather\n```json\n"
            '{"location": "Tokyo"}\n```<|tool\u2581call\u2581end|>\n{{end}}'
            "<|tool\u2581calls\u2581end|>{{end}}",
            "<|tool\u2581calls\u2581begin|>",
        ),
        (
            "{{if .ToolCalls}}{{range .ToolCalls}}<tool_call>{{.}}</tool_call>{{end}}{{end}}",
            "<tool_call>",
        ),
        (
            '{{if .ToolCalls}}{{range .ToolCalls}}<tool_call>{"name": "{{ .Function.Name }}", '
            '"arguments": {{ .Function.Arguments }}}<tool_call>{{end}}{{end}}',
            "<tool_call>",
        ),
        (
            "{{if .ToolCalls}}First text{{if .Something}}inner{{end}}Second text{{end}}",
            "First text",
        ),
        ("{{if .Something}}{{if .OtherThing}}text{{end}}{{end}}", "{"),
        ("{{if .ToolCalls}}Action: ```json{{end}}", "Action: ```json"),
        ("{{if .ToolCalls}}functools[{{end}}", "functools["),
        ("{{if .ToolCalls}}[TOOL_CALL] [{{end}}", "[TOOL_CALL] ["),
        ("{{if .ToolCalls}}[TOOL_CALL][{{end}}", "[TOOL_CALL]["),
        ("qwen3", "<tool_call>"),
        ("qwen2.5-style", "<tool_call>"),
        # The text is trimmed before the cut at "{", not after it.
        ("command-r", "Action: ```json\n["),
        ("mistral-tools-style", "[TOOL_CALLS] ["),
        ("llama3.1-style", "{"),
    ],
)
def test_tool_call_tag(source: str, expected: str) -> None:
    # Ollama's TestParseTag; an empty tag means "{".
    assert tool_call_tag(Template(TEMPLATES.get(source, source))) == expected
