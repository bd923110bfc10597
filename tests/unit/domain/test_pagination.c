/* Pagination arithmetic and page/page_size parsing (src/domain/pagination.c, docs/api.md §9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/pagination.h"

static int page(int64_t count, const char *p, int64_t size, struct tk_pagination *out)
{
    struct tk_page_request r;
    tk_page_parse(p, p ? strlen(p) : 0, &r);
    return tk_paginate(count, &r, size, out);
}

static void test_empty_list_has_one_page(void **state)
{
    struct tk_pagination pg;
    assert_int_equal(page(0, NULL, 100, &pg), 0);
    assert_int_equal(pg.count, 0);
    assert_int_equal(pg.current, 1);
    assert_int_equal(pg.total_pages, 1);
    assert_int_equal(pg.next, 0);
    assert_int_equal(pg.previous, 0);
    assert_int_equal(pg.start_index, 0);
    assert_int_equal(pg.end_index, 0);
    assert_int_equal(page(0, "2", 100, &pg), TK_ERR_NOTFOUND);
    assert_int_equal(page(0, "last", 100, &pg), 0);
    assert_int_equal(pg.current, 1);
}

static void test_middle_and_last_pages(void **state)
{
    struct tk_pagination pg;
    assert_int_equal(page(45, "2", 20, &pg), 0);
    assert_int_equal(pg.total_pages, 3);
    assert_int_equal(pg.current, 2);
    assert_int_equal(pg.next, 3);
    assert_int_equal(pg.previous, 1);
    assert_int_equal(pg.start_index, 21);
    assert_int_equal(pg.end_index, 40);
    assert_int_equal(pg.offset, 20);
    assert_int_equal(page(45, "last", 20, &pg), 0);
    assert_int_equal(pg.current, 3);
    assert_int_equal(pg.next, 0);
    assert_int_equal(pg.start_index, 41);
    assert_int_equal(pg.end_index, 45);
    assert_int_equal(page(40, "2", 20, &pg), 0);
    assert_int_equal(pg.total_pages, 2);
    assert_int_equal(pg.end_index, 40);
}

static void test_page_values(void **state)
{
    struct tk_pagination pg;
    assert_int_equal(page(10, "", 5, &pg), 0); /* ?page= is page 1 */
    assert_int_equal(pg.current, 1);
    assert_int_equal(page(10, " 2 ", 5, &pg), 0);
    assert_int_equal(pg.current, 2);
    assert_int_equal(page(10, "+2", 5, &pg), 0);
    assert_int_equal(pg.current, 2);
    assert_int_equal(page(10, "0", 5, &pg), TK_ERR_NOTFOUND);
    assert_int_equal(page(10, "-1", 5, &pg), TK_ERR_NOTFOUND);
    assert_int_equal(page(10, "3", 5, &pg), TK_ERR_NOTFOUND);
    assert_int_equal(page(10, "abc", 5, &pg), TK_ERR_NOTFOUND);
    assert_int_equal(page(10, "1.5", 5, &pg), TK_ERR_NOTFOUND);
    assert_int_equal(page(10, "2.0", 5, &pg), TK_ERR_NOTFOUND);
    assert_int_equal(page(10, " ", 5, &pg), TK_ERR_NOTFOUND);
    assert_int_equal(page(10, "Last", 5, &pg), TK_ERR_NOTFOUND);
    assert_int_equal(page(10, "99999999999999999999999999", 5, &pg), TK_ERR_NOTFOUND);
    assert_int_equal(page(10, "-99999999999999999999999999", 5, &pg), TK_ERR_NOTFOUND);
}

static void test_page_size(void **state)
{
    assert_int_equal(tk_page_size_parse(NULL, 0, 100, 1000), 100);
    assert_int_equal(tk_page_size_parse("20", 2, 100, 1000), 20);
    assert_int_equal(tk_page_size_parse(" 20 ", 4, 100, 1000), 20);
    assert_int_equal(tk_page_size_parse("0", 1, 100, 1000), 100);
    assert_int_equal(tk_page_size_parse("-5", 2, 100, 1000), 100);
    assert_int_equal(tk_page_size_parse("abc", 3, 100, 1000), 100);
    assert_int_equal(tk_page_size_parse("1.5", 3, 100, 1000), 100);
    assert_int_equal(tk_page_size_parse("5000", 4, 100, 1000), 1000);
    assert_int_equal(tk_page_size_parse("123456789012345678901234567890", 30, 100, 1000), 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_list_has_one_page),
        cmocka_unit_test(test_middle_and_last_pages),
        cmocka_unit_test(test_page_values),
        cmocka_unit_test(test_page_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
