//! Where a script recursed, for a stack overflow. Rhai reports one without
//! a position: each returning call sets the error's position to its own call
//! site, and the outermost call (the host's) has none. So the place is found
//! on the AST instead: the call that closes the first cycle of calls
//! reachable from the hook, which is the recursion that never ended.

use std::collections::BTreeSet;

use rhai::{AST, ASTNode, Expr, Position, Stmt};

/// Where a position is, comparable.
fn place(position: Position) -> (usize, usize) {
    (position.line().unwrap_or(0), position.position().unwrap_or(0))
}

/// The script functions `function` calls, with where it calls them: the
/// calls whose place is within its body.
fn calls_of(ast: &AST, function: &str) -> Vec<(String, Position)> {
    let bodies: Vec<((usize, usize), (usize, usize))> = ast
        .iter_fn_def()
        .filter(|f| f.name == function)
        .map(|f| (place(f.body.start_position()), place(f.body.end_position())))
        .collect();
    let mut calls = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let call = match path.last() {
            Some(ASTNode::Stmt(Stmt::FnCall(call, position))) => Some((call, *position)),
            Some(ASTNode::Expr(Expr::FnCall(call, position) | Expr::MethodCall(call, position))) => {
                Some((call, *position))
            }
            _ => None,
        };
        if let Some((call, position)) = call {
            let at = place(position);
            if bodies.iter().any(|(start, end)| (start..=end).contains(&&at)) {
                calls.push((call.name.to_string(), position));
            }
        }
        true
    });
    calls
}

/// The call that recurses, reachable from `hook`, if any.
pub(super) fn recursive_call(ast: &AST, hook: &str) -> Option<Position> {
    let defined: BTreeSet<String> = ast.iter_functions().map(|f| f.name.to_owned()).collect();
    let mut done = BTreeSet::new();
    search(ast, &defined, &mut vec![hook.to_owned()], &mut done)
}

/// Depth first from the last function of `stack`; `done` holds functions
/// known to lead to no cycle.
fn search(
    ast: &AST,
    defined: &BTreeSet<String>,
    stack: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Position> {
    let current = stack.last()?.clone();
    for (callee, position) in calls_of(ast, &current) {
        if !defined.contains(&callee) || done.contains(&callee) {
            continue;
        }
        if stack.contains(&callee) {
            return Some(position);
        }
        stack.push(callee);
        let found = search(ast, defined, stack, done);
        if let Some(callee) = stack.pop() {
            done.insert(callee);
        }
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(source: &str, hook: &str) -> Option<(usize, usize)> {
        let ast = rhai::Engine::new().compile(source).unwrap();
        recursive_call(&ast, hook).map(|p| (p.line().unwrap(), p.position().unwrap()))
    }

    #[test]
    fn the_call_that_closes_the_cycle_is_found() {
        assert_eq!(at("fn down(n) {\n  down(n + 1)\n}\nfn decide(s) { down(0) }", "decide"), Some((2, 3)));
        let mutual = "fn a(n) { b(n) }\nfn b(n) {\n  let x = 1;\n  a(n + x)\n}\nfn decide(s) { a(1) }";
        assert_eq!(at(mutual, "decide"), Some((4, 3)));
        assert_eq!(at("fn f(n) { n } fn decide(s) { f(f(1)) }", "decide"), None, "no recursion");
    }
}
