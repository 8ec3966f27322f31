import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A modal question (the browser's `<dialog>`: focus stays inside, Escape cancels). `onConfirm`
 * runs when the confirm button is pressed; `disabled` holds it back (e.g. while a form is wrong).
 */
export function Confirm(props: { title: string; confirmLabel: string; disabled?: boolean; onConfirm: () => void; onCancel: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onCancel={(e) => (e.preventDefault(), props.onCancel())}>
      <form method="dialog" onSubmit={(e) => (e.preventDefault(), props.disabled ? undefined : props.onConfirm())}>
        <h3 id="confirm-title">{props.title}</h3>
        {props.children}
        <div class="buttons">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={props.disabled}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
