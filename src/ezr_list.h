/* The one list type of the server: an intrusive, circular, doubly-linked list. An object on
 * several lists has one named link per list, a link knows whether it is on a list, and removal is
 * O(1) from anywhere, so an object leaves every list when it closes and is never freed while a
 * list still points at it. Not thread-safe: each list belongs to one thread. */
#ifndef EZR_LIST_H
#define EZR_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct ezr_link {
    struct ezr_link *prev, *next; /* NULL, NULL: on no list */
};

struct ezr_list {
    struct ezr_link head; /* sentinel */
};

#define EZR_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void ezr_list_init(struct ezr_list *l)
{
    l->head.prev = l->head.next = &l->head;
}

static inline bool ezr_list_empty(const struct ezr_list *l)
{
    return l->head.next == &l->head;
}

static inline bool ezr_link_linked(const struct ezr_link *n)
{
    return n->next != NULL;
}

/* Puts n after at, a link of a list or its head (then n goes first). */
static inline void ezr_list_insert_after(struct ezr_link *at, struct ezr_link *n)
{
    n->prev = at;
    n->next = at->next;
    at->next->prev = n;
    at->next = n;
}

static inline void ezr_list_push_back(struct ezr_list *l, struct ezr_link *n)
{
    ezr_list_insert_after(l->head.prev, n);
}

static inline void ezr_list_push_front(struct ezr_list *l, struct ezr_link *n)
{
    ezr_list_insert_after(&l->head, n);
}

/* Takes n off the list it is on (a no-op if on none). */
static inline void ezr_list_remove(struct ezr_link *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

/* The first link, or NULL. */
static inline struct ezr_link *ezr_list_first(const struct ezr_list *l)
{
    return ezr_list_empty(l) ? NULL : l->head.next;
}

static inline struct ezr_link *ezr_list_pop_front(struct ezr_list *l)
{
    struct ezr_link *n = ezr_list_first(l);
    if (n)
        ezr_list_remove(n);
    return n;
}

/* Moves every link of src to the end of dst; src is left empty. */
static inline void ezr_list_splice_back(struct ezr_list *dst, struct ezr_list *src)
{
    if (ezr_list_empty(src))
        return;
    struct ezr_link *first = src->head.next, *last = src->head.prev;
    first->prev = dst->head.prev;
    dst->head.prev->next = first;
    last->next = &dst->head;
    dst->head.prev = last;
    ezr_list_init(src);
}

/* Visits every link; the current one may be removed (or freed) by the body, no other. */
#define EZR_LIST_FOREACH_SAFE(it, nx, l)                                                       \
    for (struct ezr_link *it = (l)->head.next, *nx = it->next; it != &(l)->head;              \
         it = nx, nx = it->next)

#endif
