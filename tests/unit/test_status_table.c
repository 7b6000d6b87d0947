/* `warren status` for people, drawn from the daemon's JSON: the JSON reader
 * takes what RFC 8259 allows and refuses the rest (depth bounded); the table
 * keeps its documented columns, fits a terminal's width by shortening the
 * last error, colours states only when asked, shows ages on a terminal, and
 * never passes a control character from the daemon to the terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_read.h"
#include "status_table.h"

static struct wr_jvalue *parse_ok(const char *text)
{
	char err[128] = "";
	struct wr_jvalue *v = wr_jparse(text, err, sizeof(err));

	if (!v)
		fail_msg("refused %s: %s", text, err);
	return v;
}

static void test_json_reads_nested_values(void **state)
{
	struct wr_jvalue *v = parse_ok(" {\"a\": [1, -2.5e3, true, false, null, \"x\"],"
	                               " \"big\": 18446744073709551615, \"o\": {}} ");
	const struct wr_jvalue *a = wr_jget(v, "a");

	assert_non_null(a);
	assert_int_equal(a->type, WR_JARRAY);
	assert_int_equal(a->count, 6);
	assert_string_equal(a->items[1].text, "-2.5e3");
	assert_int_equal(a->items[2].type, WR_JBOOL);
	assert_true(a->items[2].boolean);
	assert_false(a->items[3].boolean);
	assert_int_equal(a->items[4].type, WR_JNULL);
	assert_string_equal(a->items[5].text, "x");
	/* 64-bit counters survive: no detour through a double. */
	assert_true(wr_jget_uint(v, "big", 0) == UINT64_MAX);
	assert_int_equal(wr_jget(v, "o")->type, WR_JOBJECT);
	assert_null(wr_jget(v, "missing"));
	assert_true(wr_jget_uint(v, "a", 7) == 7);
	wr_jfree(v);
}

static void test_json_unescapes_strings(void **state)
{
	struct wr_jvalue *v =
	    parse_ok("[\"q\\\"b\\\\s\\/n\\nt\\t\", \"\\u00e9\\u20ac\", \"\\ud83d\\ude00\"]");

	assert_string_equal(v->items[0].text, "q\"b\\s/n\nt\t");
	assert_string_equal(v->items[1].text, "\xc3\xa9\xe2\x82\xac");
	assert_string_equal(v->items[2].text, "\xf0\x9f\x98\x80");
	wr_jfree(v);
}

static void test_json_refuses_what_rfc_8259_does(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[1,]",
	    "{\"a\" 1}",
	    "{\"a\": 1,}",
	    "[\"unterminated]",
	    "[01]",
	    "[1.]",
	    "[.5]",
	    "[tru]",
	    "{a: 1}",
	    "[1] [2]",
	    "[\"\t\"]",
	    "[\"\\x\"]",
	    "[\"\\ud800\"]",
	    "[\"\\udc00\"]",
	    "[\"\\u0000\"]",
	    "{\"a\": }",
	    "[1 2]",
	};
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wr_jvalue *v = wr_jparse(bad[i], err, sizeof(err));

		if (v)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(strstr(err, " at byte "));
	}
}

static void test_json_depth_is_bounded(void **state)
{
	char deep[300];
	char err[128];

	/* 200 levels: refused at the bound, before the missing ends matter. */
	memset(deep, '[', 200);
	deep[200] = '\0';
	assert_null(wr_jparse(deep, err, sizeof(err)));
	assert_non_null(strstr(err, "nested deeper"));
	/* 60 levels, closed: fine. */
	memset(deep, '[', 60);
	memset(deep + 60, ']', 60);
	deep[120] = '\0';
	wr_jfree(parse_ok(deep));
}

static const char doc[] =
    "{\"tunnels\": [{\"name\": \"telnet\", \"transport\": \"ssh-forward\", \"state\": \"up\", "
    "\"since\": \"2026-11-27T10:00:00Z\", \"restarts\": 0, \"last_error\": null, "
    "\"bytes_in\": 1536, \"bytes_out\": 0, \"details\": {\"name\": \"not a tunnel\"}}, "
    "{\"name\": \"vpn\", \"transport\": \"ppp-ssh\", \"state\": \"failed\", "
    "\"since\": \"2026-11-27T09:00:00Z\", \"restarts\": 12, "
    "\"last_error\": \"gateway said \\u001b[2Jno\\nway: connection refused by "
    "gw.example.com port 22 after a long wait\", \"bytes_in\": 0, \"bytes_out\": 0}, "
    "{\"name\": \"x\", \"transport\": \"relay\", \"state\": \"down\", "
    "\"since\": \"2026-11-25T10:00:00Z\", \"restarts\": 1, \"last_error\": null, "
    "\"bytes_in\": 0, \"bytes_out\": 0}]}";

static char *render(const struct wr_table_style *style)
{
	struct wr_buf out = {0};
	char err[128] = "";
	char *copy;

	if (wr_status_table(doc, style, &out, err, sizeof(err)) < 0)
		fail_msg("table refused the document: %s", err);
	copy = strdup(wr_buf_cstr(&out));
	wr_buf_free(&out);
	return copy;
}

static void test_table_for_scripts_is_plain_and_whole(void **state)
{
	struct wr_table_style style = {0};
	char *t = render(&style);

	assert_string_equal(
	    t, "NAME   TRANSPORT   STATE  SINCE                RESTARTS   IN OUT  LAST-ERROR\n"
	       "telnet ssh-forward up     2026-11-27T10:00:00Z        0 1.5K   0  -\n"
	       "vpn    ppp-ssh     failed 2026-11-27T09:00:00Z       12    0   0  gateway said "
	       "?[2Jno?way: connection refused by gw.example.com port 22 after a long wait\n"
	       "x      relay       down   2026-11-25T10:00:00Z        1    0   0  -\n");
	free(t);
}

/* Columns on the screen: ANSI sequences take none, UTF-8 one per character. */
static size_t screen_width(const char *line, size_t len)
{
	size_t cols = 0;

	for (size_t i = 0; i < len; i++) {
		if (line[i] == '\033') {
			while (i < len && line[i] != 'm')
				i++;
			continue;
		}
		if (((unsigned char)line[i] & 0xc0) != 0x80)
			cols++;
	}
	return cols;
}

static void test_table_fits_the_terminal(void **state)
{
	struct wr_table_style style = {.width = 72, .now = 1795773600}; /* 2026-11-27T10:00:00Z */
	char *t = render(&style);
	char *line = t;

	for (char *nl; (nl = strchr(line, '\n')); line = nl + 1)
		if (screen_width(line, (size_t)(nl - line)) > 72)
			fail_msg("line wider than 72 columns: %.*s", (int)(nl - line), line);
	/* Ages, and the error cut with "..." rather than wrapped: 52 columns
	 * before it leave 20. */
	assert_non_null(strstr(t, "telnet ssh-forward up     0s ago "));
	assert_non_null(strstr(t, "1h ago"));
	assert_non_null(strstr(t, "2d ago"));
	assert_non_null(strstr(t, "gateway said ?[2J..."));
	assert_null(strchr(t, '\033'));
	free(t);
}

static void test_table_colours_states_only_when_asked(void **state)
{
	struct wr_table_style style = {.width = 200, .colour = true, .now = 1795773600};
	char *t = render(&style);

	assert_non_null(strstr(t, "\033[32mup\033[0m    "));
	assert_non_null(strstr(t, "\033[31mfailed\033[0m"));
	/* down has no colour; the daemon's ESC never reaches the terminal. */
	assert_non_null(strstr(t, " down "));
	assert_null(strstr(t, "\033[2J"));
	free(t);
}

static void test_table_refuses_a_document_without_tunnels(void **state)
{
	struct wr_table_style style = {0};
	struct wr_buf out = {0};
	char err[128];

	assert_int_equal(wr_status_table("{\"other\": []}", &style, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tunnels"));
	assert_int_equal(wr_status_table("not json", &style, &out, err, sizeof(err)), -1);
	assert_int_equal(wr_status_table("{\"tunnels\": []}", &style, &out, err, sizeof(err)), 0);
	assert_string_equal(wr_buf_cstr(&out),
	                    "NAME TRANSPORT STATE SINCE RESTARTS IN OUT  LAST-ERROR\n");
	wr_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_reads_nested_values),
	    cmocka_unit_test(test_json_unescapes_strings),
	    cmocka_unit_test(test_json_refuses_what_rfc_8259_does),
	    cmocka_unit_test(test_json_depth_is_bounded),
	    cmocka_unit_test(test_table_for_scripts_is_plain_and_whole),
	    cmocka_unit_test(test_table_fits_the_terminal),
	    cmocka_unit_test(test_table_colours_states_only_when_asked),
	    cmocka_unit_test(test_table_refuses_a_document_without_tunnels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
